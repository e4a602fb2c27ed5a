#include "tvd/master/member_hub.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <tuple>

#include "tvd/protocol/member_list.h"

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

TEST(MasterHubTest, ANotifierIsToldOncePerBatchAndAtOnceForAnEnd) {
  using U = MemberSession::Urgency;
  MemberSessionPtr s = Make("blue", "node1");
  auto frame =
      std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1});
  std::vector<U> told;
  EXPECT_EQ(s->SetNotifier([&](U u) { told.push_back(u); }), U::kNone);
  s->Push(MessageType::kMembershipUpdate, frame);
  s->Push(MessageType::kMembershipUpdate, frame);  // covered by the first
  EXPECT_EQ(told, std::vector<U>{U::kMembership});
  s->Push(MessageType::kPolicyUpdate, frame);  // more urgent: told again
  s->Push(MessageType::kPolicyUpdate, frame);
  EXPECT_EQ(told, (std::vector<U>{U::kMembership, U::kNow}));
  EXPECT_EQ(s->Take().frames.size(), 4u);
  EXPECT_FALSE(Woken(*s));  // a notifier replaces the eventfd
  s->Push(MessageType::kMembershipUpdate, frame);
  s->End();  // an end is always news
  EXPECT_EQ(told,
            (std::vector<U>{U::kMembership, U::kNow, U::kMembership, U::kNow}));
  s->ClearNotifier();
  MemberSession::Batch b = s->Take();
  EXPECT_EQ(b.frames.size(), 1u);
  EXPECT_TRUE(b.end);
}

TEST(MasterHubTest, SetNotifierReportsWhatWasQueuedBefore) {
  using U = MemberSession::Urgency;
  MemberSessionPtr s = Make("blue", "node1");
  s->Push(MessageType::kMembershipUpdate,
          std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1}));
  int told = 0;
  EXPECT_EQ(s->SetNotifier([&](U) { ++told; }), U::kMembership);
  s->Push(MessageType::kMembershipUpdate,
          std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{2}));
  EXPECT_EQ(told, 0);
  EXPECT_EQ(s->Take().frames.size(), 2u);
}

TEST(MasterHubTest, FindAllMatchesSortedAndUnsortedHostsAndRemovesEnds) {
  MemberHub hub;
  std::vector<MemberSessionPtr> blue;
  for (const char* h : {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"})
    hub.Attach(blue.emplace_back(Make("blue", h)));
  MemberSessionPtr red = Make("red", "a");
  hub.Attach(red);
  EXPECT_EQ(hub.size(), 12u);
  const std::string kBlue = "blue", kRed = "red", kGone = "gone";
  // Sorted with gaps (one beyond the 8-step walk), one out of order, an
  // unknown host, another TVD and an unknown TVD.
  std::vector<std::string> names = {"a", "c", "k", "zz", "b", "a", "a", "x"};
  std::vector<const std::string*> tvds = {&kBlue, &kBlue, &kBlue, &kBlue,
                                          &kBlue, &kRed,  &kGone, &kBlue};
  std::vector<const std::string*> hosts;
  for (const auto& n : names) hosts.push_back(&n);
  std::vector<bool> remove = {false, true,  false, false,
                              false, false, false, false};
  std::vector<MemberSessionPtr> got = hub.FindAll(tvds, hosts, remove);
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(got[0], blue[0]);
  EXPECT_EQ(got[1], blue[2]);
  EXPECT_EQ(got[2], blue[10]);
  EXPECT_EQ(got[3], nullptr);
  EXPECT_EQ(got[4], blue[1]);
  EXPECT_EQ(got[5], red);
  EXPECT_EQ(got[6], nullptr);
  EXPECT_EQ(got[7], nullptr);
  EXPECT_EQ(hub.Find("blue", "c"), nullptr);  // removed: it ended
  EXPECT_EQ(hub.size(), 11u);
}

protocol::MembershipUpdate Update(std::uint64_t epoch, std::uint32_t count,
                                  std::vector<protocol::MemberChange> changes,
                                  std::uint8_t key = 0) {
  protocol::MembershipUpdate u;
  u.tvd = "blue";
  u.epoch = epoch;
  u.member_count = count;
  u.changes = std::move(changes);
  if (key != 0) u.key = SecureBytes(std::vector<std::uint8_t>(32, key));
  return u;
}

TEST(MasterMergeTest, ARunOfUpdatesBecomesOneWithTheLastEpochCountAndKey) {
  using protocol::MembershipChange;
  auto a = Update(3, 2, {{MembershipChange::kJoined, {"n2", "10.0.0.2"}}});
  auto b = Update(4, 1, {{MembershipChange::kLeft, {"n2", ""}}}, 7);
  auto c = Update(4, 2, {{MembershipChange::kJoined, {"n3", "10.0.0.3"}}});
  auto merged = MergeMembershipUpdates({&a, &b, &c});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].tvd, "blue");
  EXPECT_EQ(merged[0].epoch, 4u);
  EXPECT_EQ(merged[0].member_count, 2u);
  EXPECT_EQ(merged[0].changes,
            (std::vector<protocol::MemberChange>{
                {MembershipChange::kJoined, {"n2", "10.0.0.2"}},
                {MembershipChange::kLeft, {"n2", ""}},
                {MembershipChange::kJoined, {"n3", "10.0.0.3"}}}));
  EXPECT_TRUE(merged[0].key.Equals(b.key.view()));
  // Applied to a member list, the merged update ends where the three do.
  const std::vector<protocol::Member> start = {{"n1", "10.0.0.1"}};
  protocol::MemberList one(start);
  protocol::MemberList three(start);
  ASSERT_TRUE(one.Apply(merged[0]).ok());
  for (const auto* u : {&a, &b, &c}) ASSERT_TRUE(three.Apply(*u).ok());
  EXPECT_EQ(one.Sorted(), three.Sorted());
  // No key in the run: none in the result.
  EXPECT_TRUE(MergeMembershipUpdates({&a, &c})[0].key.empty());
}

TEST(MasterMergeTest, NoMergedUpdateHoldsMoreChangesThanTheProtocolAllows) {
  using protocol::MembershipChange;
  std::vector<protocol::MembershipUpdate> inputs;
  const std::size_t n = protocol::kMaxMemberChanges + 10;
  for (std::size_t i = 0; i < n; ++i) {
    inputs.push_back(Update(
        1, static_cast<std::uint32_t>(i + 2),
        {{MembershipChange::kJoined, {"n" + std::to_string(i), "10.0.0.1"}}}));
  }
  std::vector<const protocol::MembershipUpdate*> run;
  for (const auto& u : inputs) run.push_back(&u);
  auto merged = MergeMembershipUpdates(run);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].changes.size(), protocol::kMaxMemberChanges);
  EXPECT_EQ(merged[0].member_count, protocol::kMaxMemberChanges + 1);
  EXPECT_EQ(merged[1].changes.size(), 10u);
  EXPECT_EQ(merged[1].member_count, n + 1);
  // Each decodes as the protocol's own message.
  for (const auto& m : merged) {
    auto decoded = protocol::DecodeMembershipUpdate(protocol::Encode(m));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  }
}

TEST(MasterFrameOnceTest, AMembershipUpdateIsDecodedOncePerPayload) {
  using protocol::MembershipChange;
  auto u = Update(2, 2, {{MembershipChange::kJoined, {"n2", "10.0.0.2"}}}, 9);
  std::vector<std::uint8_t> encoded = protocol::Encode(u);
  auto payload = std::make_shared<const SecureBytes>(
      std::span<const std::uint8_t>(encoded));
  FrameOnce frames;
  auto first = frames.Decoded(payload);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, frames.Decoded(payload));
  EXPECT_EQ(first->changes, u.changes);
  EXPECT_TRUE(first->key.Equals(u.key.view()));
  auto junk =
      std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{1, 2});
  EXPECT_EQ(frames.Decoded(junk), nullptr);
}

// The payload byte of each frame taken, in order.
std::vector<int> Bytes(const MemberSession::Batch& b) {
  std::vector<int> out;
  for (const auto& [type, frame] : b.frames) out.push_back(frame->view()[0]);
  return out;
}

std::shared_ptr<const SecureBytes> Byte(std::uint8_t b) {
  return std::make_shared<const SecureBytes>(std::vector<std::uint8_t>{b});
}

TEST(MasterFeedTest, ABroadcastReachesTheSessionsAttachedBeforeItWasDecided) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  MemberSessionPtr b = Make("blue", "node2");
  MemberSessionPtr red = Make("red", "node1");
  hub.Attach(a);
  hub.Attach(red);
  std::uint64_t first = hub.Reserve("blue");
  // node2 attaches after the first was decided, before it is published:
  // it hears the second only (the first is in its grant).
  hub.Attach(b);
  std::uint64_t second = hub.Reserve("blue");
  hub.Publish("blue", first, MessageType::kMembershipUpdate, Byte(1), nullptr,
              "");
  hub.Publish("blue", second, MessageType::kMembershipUpdate, Byte(2), nullptr,
              "");
  EXPECT_TRUE(Woken(*a));  // no notifier: each session is told
  EXPECT_TRUE(Woken(*b));
  EXPECT_EQ(Bytes(a->Take()), (std::vector<int>{1, 2}));
  EXPECT_EQ(Bytes(b->Take()), (std::vector<int>{2}));
  EXPECT_TRUE(red->Take().frames.empty());  // another TVD's feed
  EXPECT_FALSE(Woken(*red));
  EXPECT_TRUE(a->Take().frames.empty());  // read once
}

TEST(MasterFeedTest, ASessionAttachedAgainReadsOnlyWhatWasDecidedSince) {
  MemberHub hub;
  MemberSessionPtr joining = Make("blue", "node3");
  hub.Attach(joining);  // its join decided; that decision loses its race
  std::uint64_t between = hub.Reserve("blue");
  // Decided again: the new grant holds what `between` changed.
  EXPECT_EQ(hub.Attach(joining), joining);
  std::uint64_t after = hub.Reserve("blue");
  joining->Push(MessageType::kPolicyUpdate, Byte(2));
  hub.Publish("blue", between, MessageType::kMembershipUpdate, Byte(1), nullptr,
              "");
  hub.Publish("blue", after, MessageType::kMembershipUpdate, Byte(3), nullptr,
              "");
  EXPECT_EQ(Bytes(joining->Take()), (std::vector<int>{2, 3}));
}

TEST(MasterFeedTest, TheHostABroadcastLeavesOutNeverReadsIt) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  MemberSessionPtr b = Make("blue", "node2");
  hub.Attach(a);
  hub.Attach(b);
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
              Byte(7), nullptr, "node1");
  EXPECT_TRUE(a->Take().frames.empty());
  EXPECT_EQ(Bytes(b->Take()), (std::vector<int>{7}));
}

TEST(MasterFeedTest, OwnMessagesAndBroadcastsKeepTheirOrderAndAnEndStops) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  hub.Attach(a);
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
              Byte(1), nullptr, "");
  a->Push(MessageType::kPolicyUpdate, Byte(2));
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kPolicyUpdate, Byte(3),
              nullptr, "");
  a->Push(MessageType::kLeaveNotice, Byte(4));
  a->End();
  // Published after the end: never read (it is no longer a member).
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
              Byte(5), nullptr, "");
  MemberSession::Batch b = a->Take();
  EXPECT_EQ(Bytes(b), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(b.end);
  EXPECT_TRUE(a->Take().frames.empty());
}

TEST(MasterFeedTest, AFeedNotifierIsToldOncePerPublishWithTheUrgency) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  hub.Attach(a);
  using Told = std::tuple<std::string, MemberSession::Urgency, std::size_t>;
  std::vector<Told> told;
  hub.SetFeedNotifier(
      [&](const std::string& tvd, MemberSession::Urgency u,
          std::size_t members) { told.emplace_back(tvd, u, members); });
  protocol::MembershipUpdate update;
  update.tvd = "blue";
  update.member_count = 7;
  hub.Publish(
      "blue", hub.Reserve("blue"), MessageType::kMembershipUpdate, Byte(1),
      std::make_shared<const protocol::MembershipUpdate>(std::move(update)),
      "");
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kPolicyUpdate, Byte(2),
              nullptr, "");
  // The member count the MembershipUpdate carries paces the loop.
  EXPECT_EQ(told,
            (std::vector<Told>{{"blue", MemberSession::Urgency::kMembership, 7},
                               {"blue", MemberSession::Urgency::kNow, 0}}));
  EXPECT_FALSE(Woken(*a));  // the notifier tells the loop, not the session
  EXPECT_EQ(Bytes(a->Take()), (std::vector<int>{1, 2}));
}

TEST(MasterFeedTest, ALongUnreadFeedIsFreedWithoutDeepRecursion) {
  MemberHub hub;
  MemberSessionPtr a = Make("blue", "node1");
  hub.Attach(a);
  hub.SetFeedNotifier(
      [](const std::string&, MemberSession::Urgency, std::size_t) {});
  auto frame = Byte(1);
  for (int i = 0; i < 500000; ++i) {
    hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
                frame, nullptr, "");
  }
  // The only reader of all 500,000 goes: its nodes are freed one after
  // another, not one stack frame each.
  hub.Detach(a);
  a.reset();
  MemberSessionPtr b = Make("blue", "node2");
  hub.Attach(b);
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
              Byte(9), nullptr, "");
  EXPECT_EQ(Bytes(b->Take()), (std::vector<int>{9}));
}

TEST(MasterHubTest, AnUpdateWithANewKeyIsToldAtOnce) {
  using U = MemberSession::Urgency;
  MemberSessionPtr s = Make("blue", "node1");
  std::vector<U> told;
  s->SetNotifier([&](U u) { told.push_back(u); });
  auto joined = std::make_shared<protocol::MembershipUpdate>();
  joined->tvd = "blue";
  s->Push(MessageType::kMembershipUpdate, Byte(1), joined);
  auto rekeyed = std::make_shared<protocol::MembershipUpdate>();
  rekeyed->tvd = "blue";
  rekeyed->key = SecureBytes::Random(32);
  s->Push(MessageType::kMembershipUpdate, Byte(2), rekeyed);
  EXPECT_EQ(told, (std::vector<U>{U::kMembership, U::kNow}));
  // The same for a broadcast.
  MemberHub hub;
  std::vector<U> fed;
  hub.SetFeedNotifier(
      [&](const std::string&, U u, std::size_t) { fed.push_back(u); });
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
              Byte(3), joined, "");
  hub.Publish("blue", hub.Reserve("blue"), MessageType::kMembershipUpdate,
              Byte(4), rekeyed, "");
  EXPECT_EQ(fed, (std::vector<U>{U::kMembership, U::kNow}));
}

}  // namespace
}  // namespace tvd::master
