#include "tvd/proxy/update_inbox.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <thread>

namespace tvd::proxy {
namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST(MasterUpdateInboxTest, UpdatesArriveInOrderWithTheirKeys) {
  MasterUpdateInbox inbox;
  EXPECT_FALSE(Readable(inbox.fd()));
  MasterUpdate members;
  members.members = {{"host2", "198.18.0.2"}};
  members.key_epoch = 3;
  const std::vector<std::uint8_t> key(32, 7);
  members.key = SecureBytes(std::span<const std::uint8_t>(key));
  inbox.Push(members);
  MasterUpdate evicted;
  evicted.kind = MasterUpdate::Kind::kEvicted;
  evicted.reason = "re-attestation failed";
  inbox.Push(evicted);
  MasterUpdate quote;
  quote.kind = MasterUpdate::Kind::kGuestQuote;
  quote.guest_quote = {7, "blue", "web1", std::vector<std::uint8_t>(32, 1),
                       {16}};
  inbox.Push(quote);
  EXPECT_TRUE(Readable(inbox.fd()));
  std::vector<MasterUpdate> got = inbox.Drain();
  EXPECT_FALSE(Readable(inbox.fd()));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].kind, MasterUpdate::Kind::kGuestQuote);
  EXPECT_EQ(got[2].guest_quote, quote.guest_quote);
  EXPECT_EQ(got[0].members, members.members);
  EXPECT_EQ(got[0].key_epoch, 3u);
  EXPECT_TRUE(std::equal(got[0].key.view().begin(), got[0].key.view().end(),
                         key.begin(), key.end()));
  EXPECT_EQ(got[1].kind, MasterUpdate::Kind::kEvicted);
  EXPECT_EQ(got[1].reason, "re-attestation failed");
  EXPECT_TRUE(inbox.Drain().empty());
}

// The pushing thread never waits for the draining one.
TEST(MasterUpdateInboxTest, PushFromAnotherThreadWakesThePoller) {
  MasterUpdateInbox inbox;
  std::thread link([&] {
    for (int i = 0; i < 100; ++i) {
      MasterUpdate u;
      u.key_epoch = static_cast<std::uint64_t>(i);
      inbox.Push(u);
    }
  });
  std::vector<MasterUpdate> all;
  while (all.size() < 100) {
    pollfd p{inbox.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    for (MasterUpdate& u : inbox.Drain()) all.push_back(std::move(u));
  }
  link.join();
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].key_epoch, i);
  }
}

}  // namespace
}  // namespace tvd::proxy
