// PlaintextInbox keeps bytes in order through appends, consumes, growth and
// moves. (That it wipes what it lets go of is watched from the heap in
// plaintext_hygiene_test.cc.)
#include "tvd/channel/plaintext_inbox.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace tvd::channel {
namespace {

std::vector<std::uint8_t> Bytes(std::size_t n, std::uint8_t first) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<std::uint8_t> Held(const PlaintextInbox& inbox) {
  return {inbox.view().begin(), inbox.view().end()};
}

TEST(PlaintextInboxTest, HoldsAppendedBytesInOrder) {
  PlaintextInbox inbox;
  EXPECT_TRUE(inbox.empty());
  inbox.Append(Bytes(3, 1));
  inbox.Append(Bytes(2, 4));
  EXPECT_EQ(Held(inbox), Bytes(5, 1));
  EXPECT_EQ(inbox.size(), 5u);
}

TEST(PlaintextInboxTest, ConsumeDropsTheOldestBytes) {
  PlaintextInbox inbox;
  inbox.Append(Bytes(10, 0));
  inbox.Consume(4);
  EXPECT_EQ(Held(inbox), Bytes(6, 4));
  inbox.Consume(6);
  EXPECT_TRUE(inbox.empty());
  inbox.Append(Bytes(2, 50));
  EXPECT_EQ(Held(inbox), Bytes(2, 50));
}

TEST(PlaintextInboxTest, ConsumingMoreThanHeldEmptiesIt) {
  PlaintextInbox inbox;
  inbox.Append(Bytes(3, 0));
  inbox.Consume(7);
  EXPECT_TRUE(inbox.empty());
}

// Appends after a partial consume, past the buffer's capacity (the held
// bytes move to the front, or to a larger buffer), keep the order.
TEST(PlaintextInboxTest, KeepsTheOrderThroughCompactionAndGrowth) {
  PlaintextInbox inbox;
  std::vector<std::uint8_t> expected;
  std::uint8_t next = 0;
  for (int round = 0; round < 200; ++round) {
    auto chunk = Bytes(static_cast<std::size_t>(round % 37) + 1, next);
    next = static_cast<std::uint8_t>(next + chunk.size());
    inbox.Append(chunk);
    expected.insert(expected.end(), chunk.begin(), chunk.end());
    std::size_t take = static_cast<std::size_t>(round % 5) * 3;
    take = std::min(take, expected.size());
    inbox.Consume(take);
    expected.erase(expected.begin(),
                   expected.begin() + static_cast<long>(take));
    ASSERT_EQ(Held(inbox), expected) << "round " << round;
  }
}

TEST(PlaintextInboxTest, AMoveTakesTheBytesAndLeavesItEmpty) {
  PlaintextInbox a;
  a.Append(Bytes(8, 0));
  a.Consume(3);
  PlaintextInbox b(std::move(a));
  EXPECT_EQ(Held(b), Bytes(5, 3));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): specified
  PlaintextInbox c;
  c.Append(Bytes(2, 9));
  c = std::move(b);
  EXPECT_EQ(Held(c), Bytes(5, 3));
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): specified
}

TEST(PlaintextInboxTest, ClearEmptiesIt) {
  PlaintextInbox inbox;
  inbox.Append(Bytes(100, 0));
  inbox.Clear();
  EXPECT_TRUE(inbox.empty());
  EXPECT_EQ(inbox.view().size(), 0u);
}

}  // namespace
}  // namespace tvd::channel
