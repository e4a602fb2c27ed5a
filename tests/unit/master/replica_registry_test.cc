// Two registries sharing one store, as two masters do: each epoch's key
// passes between them wrapped under the shared KEK, a decision that lost
// its race writes nothing, and each hears the other's decisions
// (ApplyStored / ApplyStoredJoins) as the notices its own members need.
#include <gtest/gtest.h>

#include "decoded_grant.h"
#include "fakes.h"
#include "tvd/master/key_wrap.h"
#include "tvd/master/tvd_registry.h"
#include "tvd/policy/tvd_policy_parser.h"

namespace tvd::master {
namespace {

using channel::MessageType;
using protocol::MembershipChange;
using testing::FakeStore;
using testing::GrantOf;

// As the registry tests write it: TVD blue (id 1), hosts node1..node3.
std::string Policy(const std::string& name, int id) {
  std::string x =
      "<tvd-policy xmlns=\"urn:tvd:policy:1\" name=\"" + name + "\" id=\"" +
      std::to_string(id) + "\">\n  <owner subject=\"CN=" + name +
      "-tenant,O=T\"/>\n  <networks><network name=\"" + name +
      "-data\" kind=\"data\" vni=\"" + std::to_string(1000 + id) +
      "\"/></networks>\n"
      "  <transport><ipsec ike=\"aes256gcm16-prfsha256-ecp256\" "
      "esp=\"aes256gcm16-ecp256\"/></transport>\n"
      "  <host-requirements allow-no-tpm=\"false\" "
      "attestation-interval=\"7\"><pcr bank=\"sha256\" index=\"16\">"
      "<known-good value=\"" +
      ToHex(Sha256Digest{}) +
      "\"/></pcr></host-requirements>\n"
      "  <authorized-hosts>\n";
  for (const char* h : {"node1", "node2", "node3"}) {
    x += std::string("    <host subject=\"CN=") + h + ",O=VDC\"/>\n";
  }
  x += "  </authorized-hosts>\n"
       "  <vms><vm name=\"web1\"><measure type=\"config\" sha256=\"" +
       ToHex(Sha256("cfg")) + "\"/></vm></vms>\n</tvd-policy>\n";
  return x;
}

Status ApplyAll(const Decision& d, Store& store) {
  for (const StoreWrite& w : d.writes) TVD_RETURN_IF_ERROR(w.apply(store));
  return Status::Ok();
}

// "host:type[:end]" per notice; a broadcast to every member is "*:type".
std::vector<std::string> Targets(const Decision& d) {
  std::vector<std::string> out;
  for (const Notice& n : d.notices) {
    std::string to =
        n.broadcast ? "*" + (n.host.empty() ? "" : "-" + n.host) : n.host;
    out.push_back(to + ":" + std::to_string(static_cast<int>(n.type)) +
                  (n.end ? ":end" : ""));
  }
  return out;
}

// The MembershipUpdate that notice `i` of `d` carries.
StatusOr<protocol::MembershipUpdate> UpdateIn(const Decision& d,
                                              std::size_t i) {
  return protocol::DecodeMembershipUpdate(d.notices[i].payload->view());
}

std::string T(const std::string& host, MessageType type, bool end = false) {
  return host + ":" + std::to_string(static_cast<int>(type)) +
         (end ? ":end" : "");
}

class ReplicaRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.SetKek(kek_.Clone());
    b_.SetKek(kek_.Clone());
    auto d = a_.LoadFile("blue.xml", Policy("blue", 1));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE(ApplyAll(*d, store_).ok());
    ASSERT_TRUE(ApplyAll(a_.Rekey("blue").value(), store_).ok());  // epoch 1
    ASSERT_TRUE(b_.Restore(Stored(), Members()).ok());
  }
  TvdRow Stored() { return store_.LoadTvd("blue").value().value(); }
  std::vector<std::string> Members() { return store_.Members("blue").value(); }
  void Join(TvdRegistry& r, const std::string& host) {
    auto j = r.Join("blue", host, "10.0.0." + host.substr(4), "h");
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    ASSERT_TRUE(ApplyAll(j->decision, store_).ok());
  }

  SecureBytes kek_ = SecureBytes::Random(kKekSize);
  FakeStore store_;
  TvdRegistry a_, b_;
};

TEST_F(ReplicaRegistryTest, BothMastersHandOutTheSameKeyForAnEpoch) {
  EXPECT_TRUE(b_.HasKey("blue"));
  EXPECT_EQ(b_.Find("blue")->epoch, 1u);
  EXPECT_TRUE(b_.Find("blue")->key.Equals(a_.Find("blue")->key.view()));
  // The store holds the key only wrapped, bound to its TVD and epoch.
  TvdRow row = Stored();
  ASSERT_FALSE(row.key_wrapped.empty());
  EXPECT_EQ(UnwrapTvdKey(kek_, "blue", 2, row.key_wrapped).status(),
            Unauthenticated("key of TVD blue epoch 2 does not unwrap (wrong "
                            "KEK or tampered row)"));
  TvdRegistry wrong_kek;
  wrong_kek.SetKek(SecureBytes::Random(kKekSize));
  EXPECT_EQ(wrong_kek.Restore(row, {}),
            Unauthenticated("key of TVD blue epoch 1 does not unwrap (wrong "
                            "KEK or tampered row)"));
}

TEST_F(ReplicaRegistryTest, AJoinOnOneMasterReachesTheMembersOfTheOther) {
  Join(a_, "node1");
  Join(b_, "node2");
  // A hears of node2 through the store (its Host row first, in the same
  // update): node1 (its member) is told.
  a_.ApplyStoredHost("node2", "10.0.0.2");
  Decision d = a_.ApplyStoredJoins("blue", Stored().token, {"node2"});
  EXPECT_EQ(Targets(d),
            (std::vector<std::string>{T("*", MessageType::kMembershipUpdate)}));
  auto update = UpdateIn(d, 0);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->changes.size(), 1u);
  EXPECT_EQ(update->changes[0].change, MembershipChange::kJoined);
  EXPECT_EQ(update->changes[0].member.host, "node2");
  EXPECT_EQ(update->member_count, 2u);
  EXPECT_TRUE(update->key.empty());
  // node2's attestation row, written before its join recorded the address,
  // comes back late: the known address stays in what A hands out.
  a_.ApplyStoredHost("node2", "");
  auto j3 = a_.Join("blue", "node3", "10.0.0.3", "h");
  ASSERT_TRUE(j3.ok());
  EXPECT_EQ(GrantOf(*j3).members[1], (protocol::Member{"node2", "10.0.0.2"}));
  // A store watch starting over reads the row without node3, whose join
  // A has not committed yet: under the same token that is no removal.
  auto reread =
      a_.ApplyStored("blue", Stored(), {"node1", "node2"}, /*force=*/false);
  ASSERT_TRUE(reread.ok());
  EXPECT_TRUE(reread->notices.empty());
  EXPECT_TRUE(a_.IsMember("blue", "node3"));
  // Heard again (the next update names it too): nothing new.
  EXPECT_TRUE(
      a_.ApplyStoredJoins("blue", Stored().token, {"node2"}).notices.empty());
}

TEST_F(ReplicaRegistryTest, AnEvictionOnOneMasterRekeysTheMembersOfTheOther) {
  Join(a_, "node1");
  Join(a_, "node2");
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), false).ok());
  auto evicted = a_.RemoveMember("blue", "node1", MembershipChange::kEvicted,
                                 "evicted: test");
  ASSERT_TRUE(evicted.ok());
  ASSERT_TRUE(ApplyAll(*evicted, store_).ok());
  // Its own row coming back changes nothing on A.
  auto echo = a_.ApplyStored("blue", Stored(), Members(), false);
  ASSERT_TRUE(echo.ok());
  EXPECT_TRUE(echo->notices.empty());
  // B takes the new epoch and key, and tells its members.
  auto heard = b_.ApplyStored("blue", Stored(), Members(), false);
  ASSERT_TRUE(heard.ok()) << heard.status().ToString();
  EXPECT_EQ(Targets(*heard), (std::vector<std::string>{
                                 T("node1", MessageType::kLeaveNotice, true),
                                 T("*", MessageType::kMembershipUpdate)}));
  auto update = UpdateIn(*heard, 1);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->epoch, 2u);
  EXPECT_TRUE(update->key.Equals(a_.Find("blue")->key.view()));
  EXPECT_EQ(b_.Find("blue")->epoch, 2u);
  EXPECT_FALSE(b_.IsMember("blue", "node1"));
}

TEST_F(ReplicaRegistryTest, ALeaveOnOneMasterIsALeaveOnTheOther) {
  Join(a_, "node1");
  Join(a_, "node2");
  Join(a_, "node3");
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), false).ok());
  auto left = a_.Leave("blue", pki::Identity{pki::Role::kHost, "node1"},
                       "node1", "done");
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  ASSERT_TRUE(ApplyAll(*left, store_).ok());
  // The removal carries why, for the store's Departure row.
  std::optional<TvdTransition> t = store_.last_transition();
  ASSERT_TRUE(t.has_value() && t->departure.has_value());
  EXPECT_TRUE(t->departure->left);
  EXPECT_EQ(t->departure->reason, "left: done");
  // B, told why, announces a leave with the same reason.
  auto heard = b_.ApplyStored("blue", Stored(), Members(), false,
                              {{"node1", *t->departure}});
  ASSERT_TRUE(heard.ok()) << heard.status().ToString();
  ASSERT_EQ(Targets(*heard), (std::vector<std::string>{
                                 T("node1", MessageType::kLeaveNotice, true),
                                 T("*", MessageType::kMembershipUpdate)}));
  auto notice = protocol::DecodeLeaveNotice(heard->notices[0].payload->view());
  ASSERT_TRUE(notice.ok()) << notice.status().ToString();
  EXPECT_EQ(notice->reason, "left: done");
  auto update = UpdateIn(*heard, 1);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->changes, (std::vector<protocol::MemberChange>{
                                 {MembershipChange::kLeft, {"node1", ""}}}));
  // Without a departure (a removal this master cannot explain), evicted.
  auto evicted =
      a_.RemoveMember("blue", "node2", MembershipChange::kEvicted, "gone");
  ASSERT_TRUE(evicted.ok());
  ASSERT_TRUE(ApplyAll(*evicted, store_).ok());
  auto unexplained = b_.ApplyStored("blue", Stored(), Members(), false);
  ASSERT_TRUE(unexplained.ok());
  ASSERT_EQ(unexplained->notices.size(), 2u);
  auto evicted_update = UpdateIn(*unexplained, 1);
  ASSERT_TRUE(evicted_update.ok());
  EXPECT_EQ(evicted_update->changes,
            (std::vector<protocol::MemberChange>{
                {MembershipChange::kEvicted, {"node2", ""}}}));
}

TEST_F(ReplicaRegistryTest, TheLoserOfARaceWritesNothingAndDecidesAgain) {
  Join(a_, "node1");
  Join(a_, "node2");
  Join(a_, "node3");
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), false).ok());
  // Both evict node1 from the same row.
  auto by_a = a_.RemoveMember("blue", "node1", MembershipChange::kEvicted, "a");
  auto by_b = b_.RemoveMember("blue", "node1", MembershipChange::kEvicted, "b");
  ASSERT_TRUE(by_a.ok() && by_b.ok());
  ASSERT_TRUE(ApplyAll(*by_a, store_).ok());
  EXPECT_EQ(by_b->writes[0].apply(store_),
            FailedPrecondition("TVD blue changed on another master"));
  EXPECT_EQ(by_b->writes[0].transition_of, "blue");
  EXPECT_EQ(Stored().epoch, 2u);  // once
  // B, brought to the stored row after its lost race, decides again.
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), true).ok());
  EXPECT_TRUE(b_.Find("blue")->key.Equals(a_.Find("blue")->key.view()));
  auto again =
      b_.RemoveMember("blue", "node2", MembershipChange::kEvicted, "b");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(ApplyAll(*again, store_).ok());
  EXPECT_EQ(Stored().epoch, 3u);
  EXPECT_EQ(Members(), (std::vector<std::string>{"node3"}));
}

TEST_F(ReplicaRegistryTest, AJoinDecidedAgainAfterALostRaceIsAnnounced) {
  Join(a_, "node1");
  Join(a_, "node2");
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), false).ok());
  // B decides node3's join; its transaction commits but the answer is
  // lost (the store's leader died), A rekeys, and the transaction sent
  // again loses: B counts it as lost.
  auto lost = b_.Join("blue", "node3", "10.0.0.3", "h");
  ASSERT_TRUE(lost.ok());
  ASSERT_TRUE(store_.AddMember("blue", "node3").ok());  // the first sending
  ASSERT_TRUE(ApplyAll(a_.Rekey("blue").value(), store_).ok());
  EXPECT_EQ(lost->decision.writes[1].apply(store_),
            FailedPrecondition("TVD blue changed on another master"));
  // B takes the stored row: node3 is a member, as B counted it, but no
  // member heard of it. Decided again without `announce`, none would.
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), true).ok());
  EXPECT_TRUE(b_.IsMember("blue", "node3"));
  auto quiet = b_.Join("blue", "node3", "10.0.0.3", "h");
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->decision.notices.empty());
  auto again = b_.Join("blue", "node3", "10.0.0.3", "h", /*announce=*/true);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(
      Targets(again->decision),
      (std::vector<std::string>{T("*-node3", MessageType::kMembershipUpdate)}));
  auto update = UpdateIn(again->decision, 0);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->changes,
            (std::vector<protocol::MemberChange>{
                {MembershipChange::kJoined, {"node3", "10.0.0.3"}}}));
  EXPECT_EQ(update->member_count, 3u);
}

TEST_F(ReplicaRegistryTest, AJoinThatLostItsRaceGoesUnannouncedWithTheRow) {
  Join(a_, "node1");
  Join(a_, "node2");
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), false).ok());
  // B decides node3's join while A rekeys; A's transition commits first,
  // so B's is refused and nothing of it is stored: its MembershipUpdate
  // never leaves and no member knows node3.
  auto lost = b_.Join("blue", "node3", "10.0.0.3", "h");
  ASSERT_TRUE(lost.ok());
  ASSERT_TRUE(ApplyAll(a_.Rekey("blue").value(), store_).ok());
  EXPECT_EQ(lost->decision.writes[1].apply(store_),
            FailedPrecondition("TVD blue changed on another master"));
  // The store watch brings A's row. The members hear the new key and no
  // change: not node3's eviction, which they would refuse ("host node3
  // left but is not a member") and so miss the key. node3's channel is
  // not told to leave: its join is decided again.
  auto heard = b_.ApplyStored("blue", Stored(), Members(), false);
  ASSERT_TRUE(heard.ok()) << heard.status().ToString();
  ASSERT_EQ(Targets(*heard),
            (std::vector<std::string>{T("*", MessageType::kMembershipUpdate)}));
  auto update = UpdateIn(*heard, 0);
  ASSERT_TRUE(update.ok());
  EXPECT_TRUE(update->changes.empty());
  EXPECT_EQ(update->member_count, 2u);
  EXPECT_EQ(update->epoch, 2u);
  EXPECT_FALSE(b_.IsMember("blue", "node3"));
  // Decided again, the join is announced, counted from the two.
  auto again = b_.Join("blue", "node3", "10.0.0.3", "h", /*announce=*/true);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(ApplyAll(again->decision, store_).ok());
  auto joined = UpdateIn(again->decision, 0);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->changes,
            (std::vector<protocol::MemberChange>{
                {MembershipChange::kJoined, {"node3", "10.0.0.3"}}}));
  EXPECT_EQ(joined->member_count, 3u);
}

TEST_F(ReplicaRegistryTest, AStoredJoinRemovedBeforeItsEchoIsAnnouncedGone) {
  Join(a_, "node1");
  ASSERT_TRUE(b_.ApplyStored("blue", Stored(), Members(), false).ok());
  // B's join of node2 commits (its members heard of it), and A evicts
  // node2 before B's store watch showed the join: B sees both at once.
  auto joined = b_.Join("blue", "node2", "10.0.0.2", "h");
  ASSERT_TRUE(joined.ok());
  ASSERT_TRUE(ApplyAll(joined->decision, store_).ok());
  ASSERT_TRUE(a_.ApplyStored("blue", Stored(), Members(), false).ok());
  auto evicted =
      a_.RemoveMember("blue", "node2", MembershipChange::kEvicted, "gone");
  ASSERT_TRUE(evicted.ok());
  ASSERT_TRUE(ApplyAll(*evicted, store_).ok());
  std::optional<TvdTransition> t = store_.last_transition();
  ASSERT_TRUE(t.has_value() && t->departure.has_value());
  auto heard = b_.ApplyStored("blue", Stored(), Members(), false,
                              {{"node2", *t->departure}});
  ASSERT_TRUE(heard.ok()) << heard.status().ToString();
  ASSERT_EQ(Targets(*heard), (std::vector<std::string>{
                                 T("node2", MessageType::kLeaveNotice, true),
                                 T("*", MessageType::kMembershipUpdate)}));
  auto update = UpdateIn(*heard, 1);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->changes, (std::vector<protocol::MemberChange>{
                                 {MembershipChange::kEvicted, {"node2", ""}}}));
  EXPECT_EQ(update->member_count, 1u);
}

TEST_F(ReplicaRegistryTest, ATvdRemovedOnAnotherMasterEndsTheMembersHere) {
  // An admin's TVD, added on A, known to B through the store.
  std::string xml = Policy("green", 2);
  auto added = a_.AddTvd(policy::ParseTvdPolicy(xml, "test").value(), xml,
                         "admin:alice");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_TRUE(ApplyAll(added->decision, store_).ok());
  auto green = store_.LoadTvd("green").value();
  ASSERT_TRUE(b_.ApplyStored("green", green, {}, false).ok());
  auto j = b_.Join("green", "node3", "10.0.0.3", "h");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  ASSERT_TRUE(ApplyAll(j->decision, store_).ok());
  // A never heard of node3's join: its removal still goes through.
  auto removed = a_.RemoveTvd("green", "admin:alice");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  ASSERT_TRUE(ApplyAll(removed->decision, store_).ok());
  EXPECT_TRUE(store_.Members("green").value().empty());
  auto heard = b_.ApplyStored("green", std::nullopt, {}, false);
  ASSERT_TRUE(heard.ok());
  EXPECT_EQ(
      Targets(*heard),
      (std::vector<std::string>{T("node3", MessageType::kLeaveNotice, true)}));
  EXPECT_EQ(b_.Find("green"), nullptr);
}

}  // namespace
}  // namespace tvd::master
