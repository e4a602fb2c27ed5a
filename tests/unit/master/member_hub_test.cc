#include "tvd/master/member_hub.h"

#include <gtest/gtest.h>
#include <poll.h>

namespace tvd::master {
namespace {

using channel::MessageType;

bool Woken(const MemberSession& s) {
  pollfd p{s.wake_fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

MemberSessionPtr Make(const std::string& tvd, const std::string& host) {
  auto s = MemberSession::Create(tvd, host);
  EXPECT_TRUE(s.ok());
  return *s;
}

TEST(MasterHubTest, APushWakesTheChannelAndTakeConsumesTheWakeup) {
  MemberSessionPtr s = Make("blue", "node1");
  EXPECT_FALSE(Woken(*s));
  s->Push(MessageType::kPolicyUpdate,
          std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1}));
  s->Push(MessageType::kMembershipUpdate,
          std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{2}));
  EXPECT_TRUE(Woken(*s));
  MemberSession::Batch b = s->Take();
  EXPECT_FALSE(Woken(*s));
  ASSERT_EQ(b.frames.size(), 2u);
  EXPECT_EQ(b.frames[0].first, MessageType::kPolicyUpdate);
  EXPECT_EQ(b.frames[1].first, MessageType::kMembershipUpdate);
  EXPECT_FALSE(b.end);
  EXPECT_TRUE(s->Take().frames.empty());
}

TEST(MasterHubTest, NothingIsQueuedAfterTheEnd) {
  MemberSessionPtr s = Make("blue", "node1");
  s->Push(MessageType::kLeaveNotice,
          std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1}));
  s->End();
  s->Push(MessageType::kPolicyUpdate,
          std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{2}));
  EXPECT_TRUE(Woken(*s));
  MemberSession::Batch b = s->Take();
  ASSERT_EQ(b.frames.size(), 1u);
  EXPECT_EQ(b.frames[0].first, MessageType::kLeaveNotice);
  EXPECT_TRUE(b.end);
}

TEST(MasterHubTest, ARejoinSupersedesAndOnlyTheCurrentDetaches) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  MemberSessionPtr b = Make("blue", "node1");
  EXPECT_EQ(hub.Attach(a), nullptr);
  EXPECT_EQ(hub.Attach(b), a);
  hub.Detach(a);  // the old channel ending must not drop the new one
  EXPECT_EQ(hub.Find("blue", "node1"), b);
  EXPECT_FALSE(hub.Attested("blue", "node1"));
  b->attested = true;
  EXPECT_TRUE(hub.Attested("blue", "node1"));
  EXPECT_FALSE(hub.Attested("blue", "node2"));
  EXPECT_EQ(hub.Remove("blue", "node1"), b);
  EXPECT_EQ(hub.Find("blue", "node1"), nullptr);
  EXPECT_FALSE(hub.Attested("blue", "node1"));
}

TEST(MasterHubTest, EndAllEndsEveryChannel) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  MemberSessionPtr b = Make("red", "node2");
  hub.Attach(a);
  hub.Attach(b);
  hub.EndAll();
  EXPECT_TRUE(a->Take().end);
  EXPECT_TRUE(b->Take().end);
  EXPECT_EQ(hub.Find("blue", "node1"), nullptr);
}

TEST(MasterFrameOnceTest, OneMessageForManyMembersIsFramedOnce) {
  auto payload =
      std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{7, 8, 9});
  FrameOnce frames;
  auto first = frames.Frame(MessageType::kPolicyUpdate, payload);
  auto second = frames.Frame(MessageType::kPolicyUpdate, payload);
  EXPECT_EQ(first, second);  // the same bytes, not a copy
  EXPECT_EQ(frames.encoded(), 1u);
  std::vector<std::uint8_t> expected =
      channel::EncodeFrame(MessageType::kPolicyUpdate, payload->view());
  EXPECT_EQ(
      std::vector<std::uint8_t>(first->view().begin(), first->view().end()),
      expected);
}

TEST(MasterFrameOnceTest, ATypeOrPayloadOfItsOwnGetsItsOwnFrame) {
  auto a = std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1});
  // Equal bytes in another object: another message (told apart by object).
  auto b = std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1});
  FrameOnce frames;
  auto membership = frames.Frame(MessageType::kMembershipUpdate, a);
  auto leave = frames.Frame(MessageType::kLeaveNotice, a);
  auto other = frames.Frame(MessageType::kMembershipUpdate, b);
  EXPECT_NE(membership, leave);
  EXPECT_NE(membership, other);
  EXPECT_EQ(frames.encoded(), 3u);
  auto decoded = channel::DecodeFrame(leave->view(), 1024);
  ASSERT_EQ(decoded.kind, channel::DecodeResult::Kind::kFrame);
  EXPECT_EQ(decoded.frame.type, MessageType::kLeaveNotice);
  EXPECT_EQ(decoded.frame.payload, (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(decoded.consumed, leave->size());
}

}  // namespace
}  // namespace tvd::master
