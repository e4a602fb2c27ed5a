#include "tvd/master/tvd_registry.h"

#include <gtest/gtest.h>

#include "decoded_grant.h"
#include "fakes.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/tvd_policy_parser.h"

namespace tvd::master {
namespace {

using channel::MessageType;
using protocol::MembershipChange;
using testing::FakeStore;
using testing::GrantOf;

std::string Policy(const std::string& name, int id,
                   const std::vector<std::string>& hosts) {
  std::string x = "<tvd-policy xmlns=\"urn:tvd:policy:1\" name=\"" + name +
                  "\" id=\"" + std::to_string(id) + "\">\n";
  x += "  <owner subject=\"CN=" + name + "-tenant,O=T\"/>\n";
  x += "  <networks><network name=\"" + name + "-data\" kind=\"data\" vni=\"" +
       std::to_string(1000 + id) + "\"/></networks>\n";
  x += "  <transport><ipsec ike=\"aes256gcm16-prfsha256-ecp256\" "
       "esp=\"aes256gcm16-ecp256\"/></transport>\n";
  x += "  <host-requirements allow-no-tpm=\"false\" attestation-interval=\"7\">"
       "<pcr bank=\"sha256\" index=\"16\"><known-good value=\"" +
       ToHex(Sha256Digest{}) + "\"/></pcr></host-requirements>\n";
  x += "  <authorized-hosts>\n";
  for (const auto& h : hosts)
    x += "    <host subject=\"CN=" + h + ",O=VDC\"/>\n";
  x += "  </authorized-hosts>\n";
  x += "  <vms><vm name=\"web1\"><measure type=\"config\" sha256=\"" +
       ToHex(Sha256("cfg")) +
       "\"/></vm><vm name=\"web2\"><measure type=\"config\" sha256=\"" +
       ToHex(Sha256("cfg2")) + "\"/></vm></vms>\n";
  x += "  <key-release><disk-key vm=\"web1\"/></key-release>\n";
  x += "</tvd-policy>\n";
  return x;
}

pki::Identity Host(const std::string& name) { return {pki::Role::kHost, name}; }

std::vector<std::string> Whats(const Decision& d) {
  std::vector<std::string> out;
  for (const StoreWrite& w : d.writes) out.push_back(w.what);
  return out;
}

// "tvd/host:type[:end]" per notice, in order; a broadcast is
// "tvd/*[-except]:type".
std::vector<std::string> Targets(const Decision& d) {
  std::vector<std::string> out;
  for (const Notice& n : d.notices) {
    std::string to =
        n.broadcast ? "*" + (n.host.empty() ? "" : "-" + n.host) : n.host;
    out.push_back(n.tvd + "/" + to + ":" +
                  std::to_string(static_cast<int>(n.type)) +
                  (n.end ? ":end" : ""));
  }
  return out;
}

// A broadcast to every member of `tvd` but `except` (empty: none).
std::string All(const std::string& tvd, const std::string& except,
                MessageType type) {
  return tvd + "/*" + (except.empty() ? "" : "-" + except) + ":" +
         std::to_string(static_cast<int>(type));
}

std::string T(const std::string& tvd, const std::string& host, MessageType type,
              bool end = false) {
  return tvd + "/" + host + ":" + std::to_string(static_cast<int>(type)) +
         (end ? ":end" : "");
}

Status ApplyAll(const Decision& d, Store& store) {
  for (const StoreWrite& w : d.writes) TVD_RETURN_IF_ERROR(w.apply(store));
  return Status::Ok();
}

class MasterRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = registry_.LoadFile("blue.xml",
                                Policy("blue", 1, {"node1", "node2", "node3"}));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    // The store follows, as the journal would make it.
    ASSERT_TRUE(ApplyAll(*d, store_).ok());
    ASSERT_TRUE(ApplyAll(registry_.RekeyAll(), store_).ok());  // epoch 1
  }
  // An admin-owned TVD.
  void AddAdminTvd(const std::string& name, int id,
                   const std::vector<std::string>& hosts) {
    std::string xml = Policy(name, id, hosts);
    auto p = policy::ParseTvdPolicy(xml, "test");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    auto out = registry_.AddTvd(std::move(p).value(), xml, "admin:alice");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_TRUE(ApplyAll(out->decision, store_).ok());
  }
  void MustJoin(const std::string& tvd, const std::string& host) {
    auto j = registry_.Join(tvd, host, "10.0.0." + host.substr(4), "h");
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    ASSERT_TRUE(ApplyAll(j->decision, store_).ok());
  }

  TvdRegistry registry_;
  FakeStore store_;
};

TEST_F(MasterRegistryTest, CheckJoinExactErrors) {
  EXPECT_EQ(registry_.CheckJoin("red", Host("node1")).status(),
            NotFound("no TVD named red"));
  EXPECT_EQ(registry_.CheckJoin("blue", Host("node9")).status(),
            PermissionDenied("host node9 is not authorized for TVD blue"));
  auto req = registry_.CheckJoin("blue", Host("node1"));
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->interval, std::chrono::seconds(7));
}

TEST_F(MasterRegistryTest, AnAuthorizedHostWithAnotherRoleIsStillRefused) {
  EXPECT_EQ(registry_.CheckJoin("blue", {pki::Role::kAdmin, "node1"}).status(),
            PermissionDenied("admin:node1 is not a host"));
  // The policy changes what is authorized at once.
  AddAdminTvd("red", 2, {"node1"});
  EXPECT_TRUE(registry_.CheckJoin("red", Host("node1")).ok());
  std::string xml = Policy("red", 2, {"node2"});
  ASSERT_TRUE(
      registry_.UpdateTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:a")
          .ok());
  EXPECT_EQ(registry_.CheckJoin("red", Host("node1")).status(),
            PermissionDenied("host node1 is not authorized for TVD red"));
  EXPECT_TRUE(registry_.CheckJoin("red", Host("node2")).ok());
}

// The grant's list is kept in step with each change, not rebuilt: it must
// stay what the members and their addresses say.
TEST_F(MasterRegistryTest, TheGrantsMemberListFollowsJoinsMovesAndRemovals) {
  AddAdminTvd("red", 2, {"node1", "node2", "node3"});
  MustJoin("blue", "node3");
  MustJoin("blue", "node1");
  MustJoin("red", "node2");
  MustJoin("red", "node1");
  // node1 moves (by its join to red): blue's list has the new address.
  auto moved = registry_.Join("red", "node1", "10.7.7.7", "h");
  ASSERT_TRUE(moved.ok());
  auto j = registry_.Join("blue", "node2", "10.0.0.2", "h");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(GrantOf(*j).members,
            (std::vector<protocol::Member>{{"node1", "10.7.7.7"},
                                           {"node2", "10.0.0.2"},
                                           {"node3", "10.0.0.3"}}));
  EXPECT_EQ(GrantOf(*j).members, registry_.MembersOf(*registry_.Find("blue")));
  ASSERT_TRUE(
      registry_.RemoveMember("blue", "node1", MembershipChange::kEvicted, "x")
          .ok());
  // Another master recorded a new address for node3.
  registry_.ApplyStoredHost("node3", "10.3.3.3");
  j = registry_.Join("blue", "node2", "10.0.0.2", "h");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(GrantOf(*j).members,
            (std::vector<protocol::Member>{{"node2", "10.0.0.2"},
                                           {"node3", "10.3.3.3"}}));
  EXPECT_EQ(GrantOf(*j).members, registry_.MembersOf(*registry_.Find("blue")));
}

// A JoinGrant carries every member, and a host refuses one above
// protocol::kMaxMembers: a full TVD refuses a new member, not a rejoin.
TEST(MasterRegistryLimitTest, AFullTvdRefusesANewMemberButNotARejoin) {
  TvdRegistry registry(/*max_members=*/2);
  ASSERT_TRUE(
      registry
          .LoadFile("blue.xml", Policy("blue", 1, {"node1", "node2", "node3"}))
          .ok());
  registry.RekeyAll();
  ASSERT_TRUE(registry.Join("blue", "node1", "10.0.0.1", "h").ok());
  ASSERT_TRUE(registry.Join("blue", "node2", "10.0.0.2", "h").ok());
  const Status full =
      ResourceExhausted("TVD blue has 2 members, the most a TVD may have");
  EXPECT_EQ(registry.CheckJoin("blue", Host("node3")).status(), full);
  EXPECT_EQ(registry.Join("blue", "node3", "10.0.0.3", "h").status(), full);
  EXPECT_FALSE(registry.IsMember("blue", "node3"));
  EXPECT_TRUE(registry.CheckJoin("blue", Host("node2")).ok());
  EXPECT_TRUE(registry.Join("blue", "node2", "10.0.0.2", "h").ok());
}

TEST_F(MasterRegistryTest, FirstJoinGrantsTheCurrentEpochAndWritesInOrder) {
  auto j = registry_.Join("blue", "node1", "10.0.0.1", "host:node1");
  ASSERT_TRUE(j.ok());
  const protocol::JoinGrant grant = GrantOf(*j);
  EXPECT_EQ(grant.epoch, 1u);
  EXPECT_EQ(grant.key.size(), protocol::kTvdKeySize);
  EXPECT_EQ(grant.attestation_interval_seconds, 7u);
  ASSERT_EQ(grant.members.size(), 1u);
  EXPECT_EQ(grant.members[0], (protocol::Member{"node1", "10.0.0.1"}));
  EXPECT_EQ(Whats(j->decision),
            (std::vector<std::string>{"UpsertHost node1 10.0.0.1",
                                      "Transition blue +node1",
                                      "Audit join blue/node1"}));
  EXPECT_TRUE(j->decision.notices.empty());  // nobody else to tell
  ASSERT_TRUE(ApplyAll(j->decision, store_).ok());
  ASSERT_FALSE(store_.audit().empty());
  EXPECT_EQ(store_.audit().back().action, "join");
  EXPECT_EQ(store_.audit().back().reason, "joined");
  EXPECT_EQ(store_.audit().back().actor, "host:node1");
}

TEST_F(MasterRegistryTest, SecondJoinTellsTheOthersWithoutAKey) {
  MustJoin("blue", "node1");
  auto j = registry_.Join("blue", "node2", "10.0.0.2", "host:node2");
  ASSERT_TRUE(j.ok());
  ASSERT_EQ(Targets(j->decision),
            (std::vector<std::string>{
                All("blue", "node2", MessageType::kMembershipUpdate)}));
  auto update =
      protocol::DecodeMembershipUpdate(j->decision.notices[0].payload->view());
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->changes,
            (std::vector<protocol::MemberChange>{
                {MembershipChange::kJoined, {"node2", "10.0.0.2"}}}));
  EXPECT_EQ(update->epoch, 1u);
  EXPECT_TRUE(update->key.empty());
  EXPECT_EQ(update->member_count, 2u);
}

TEST_F(MasterRegistryTest, RejoinAtTheSameAddressTellsNobody) {
  MustJoin("blue", "node1");
  MustJoin("blue", "node2");
  auto j = registry_.Join("blue", "node2", "10.0.0.2", "host:node2");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE(j->decision.notices.empty());
  ASSERT_TRUE(ApplyAll(j->decision, store_).ok());
  EXPECT_EQ(store_.audit().back().reason, "rejoined");
  // A move is news.
  j = registry_.Join("blue", "node2", "10.9.9.9", "host:node2");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->decision.notices.size(), 1u);
}

TEST_F(MasterRegistryTest, JoinOfARemovedTvdIsNotFound) {
  EXPECT_EQ(registry_.Join("red", "node1", "10.0.0.1", "h").status(),
            NotFound("no TVD named red"));
}

TEST_F(MasterRegistryTest, LeaveExactErrors) {
  MustJoin("blue", "node1");
  EXPECT_EQ(
      registry_.Leave("blue", Host("node1"), "node2", "bye").status(),
      PermissionDenied("LeaveNotice names host node2 but the certificate is "
                       "host:node1"));
  EXPECT_EQ(registry_.Leave("red", Host("node1"), "node1", "bye").status(),
            NotFound("no TVD named red"));
  EXPECT_EQ(registry_.Leave("blue", Host("node3"), "node3", "bye").status(),
            NotFound("host node3 is not a member of TVD blue"));
}

TEST_F(MasterRegistryTest, LeaveRekeysAndTellsEveryone) {
  MustJoin("blue", "node1");
  MustJoin("blue", "node2");
  auto d = registry_.Leave("blue", Host("node1"), "node1", "maintenance");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(Whats(*d),
            (std::vector<std::string>{"Transition blue epoch 2 -node1",
                                      "Audit left blue/node1"}));
  EXPECT_FALSE(d->writes[1].required);  // the old best-effort audit row
  EXPECT_EQ(Targets(*d),
            (std::vector<std::string>{
                All("blue", "node1", MessageType::kMembershipUpdate),
                T("blue", "node1", MessageType::kLeaveNotice, true)}));
  auto update = protocol::DecodeMembershipUpdate(d->notices[0].payload->view());
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->epoch, 2u);
  EXPECT_EQ(update->changes, (std::vector<protocol::MemberChange>{
                                 {MembershipChange::kLeft, {"node1", ""}}}));
  EXPECT_EQ(update->key.size(), protocol::kTvdKeySize);
  EXPECT_EQ(update->member_count, 1u);
  auto notice = protocol::DecodeLeaveNotice(d->notices[1].payload->view());
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(notice->reason, "left: maintenance");
  EXPECT_FALSE(registry_.IsMember("blue", "node1"));
  EXPECT_EQ(registry_.Find("blue")->epoch, 2u);
}

TEST_F(MasterRegistryTest, EvictRemovesTheHostFromEveryTvd) {
  AddAdminTvd("green", 2, {"node1"});
  MustJoin("blue", "node1");
  MustJoin("green", "node1");
  MustJoin("blue", "node2");
  std::uint64_t green_epoch = registry_.Find("green")->epoch;
  Decision d = registry_.Evict("node1", "quote refused");
  EXPECT_EQ(Targets(d),
            (std::vector<std::string>{
                All("blue", "node1", MessageType::kMembershipUpdate),
                T("blue", "node1", MessageType::kLeaveNotice, true),
                T("green", "node1", MessageType::kLeaveNotice, true)}));
  EXPECT_FALSE(registry_.IsMember("blue", "node1"));
  EXPECT_FALSE(registry_.IsMember("green", "node1"));
  EXPECT_EQ(registry_.Find("green")->epoch, green_epoch + 1);
  auto notice = protocol::DecodeLeaveNotice(d.notices[1].payload->view());
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(notice->reason, "evicted: quote refused");
  EXPECT_TRUE(registry_.Evict("node1", "again").notices.empty());
}

TEST_F(MasterRegistryTest, RekeyExactErrorAndNewKey) {
  EXPECT_EQ(registry_.Rekey("red").status(), NotFound("no TVD named red"));
  SecureBytes before = registry_.Find("blue")->key.Clone();
  auto d = registry_.Rekey("blue");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Whats(*d), (std::vector<std::string>{"Transition blue epoch 2"}));
  EXPECT_FALSE(std::equal(before.view().begin(), before.view().end(),
                          registry_.Find("blue")->key.view().begin()));
}

TEST_F(MasterRegistryTest, CheckMemberRequestExactErrors) {
  MustJoin("blue", "node1");
  EXPECT_EQ(registry_.CheckMemberRequest("node1", "red", "web1", true, true),
            NotFound("no TVD named red"));
  EXPECT_EQ(registry_.CheckMemberRequest("node1", "blue", "web1", true, false),
            PermissionDenied(
                "host node1 has no attested member channel for TVD blue"));
  EXPECT_EQ(registry_.CheckMemberRequest("node2", "blue", "web1", true, true),
            PermissionDenied(
                "host node2 has no attested member channel for TVD blue"));
  EXPECT_EQ(registry_.CheckMemberRequest("node1", "blue", "db9", false, true),
            PermissionDenied("VM db9 is not in the policy of TVD blue"));
  EXPECT_EQ(registry_.CheckMemberRequest("node1", "blue", "web2", true, true),
            PermissionDenied(
                "the policy of TVD blue releases no disk key to VM web2"));
  EXPECT_TRUE(
      registry_.CheckMemberRequest("node1", "blue", "web2", false, true).ok());
  EXPECT_TRUE(
      registry_.CheckMemberRequest("node1", "blue", "web1", true, true).ok());
}

TEST_F(MasterRegistryTest, AddTvdExactErrors) {
  std::string xml = Policy("blue", 5, {"node1"});
  EXPECT_EQ(
      registry_.AddTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:alice")
          .status(),
      AlreadyExists("TVD blue already exists"));
  xml = Policy("red", 1, {"node1"});
  EXPECT_EQ(
      registry_.AddTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:alice")
          .status(),
      AlreadyExists("TVD id 1 is already used by TVD blue"));
  EXPECT_EQ(registry_.Find("red"), nullptr);
}

TEST_F(MasterRegistryTest, AddTvdWritesTheRowWithItsFirstEpoch) {
  std::string xml = Policy("red", 2, {"node1"});
  auto out =
      registry_.AddTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:alice");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Whats(out->decision),
            (std::vector<std::string>{"Transition red new epoch 1",
                                      "Audit tvd-add red"}));
  EXPECT_EQ(out->reply_json.rfind("{\"added\":\"red\",\"digest\":\"", 0), 0u);
  EXPECT_EQ(registry_.Find("red")->epoch, 1u);
  EXPECT_FALSE(registry_.Find("red")->from_file);
}

TEST_F(MasterRegistryTest, UpdateTvdExactErrors) {
  std::string xml = Policy("blue", 1, {"node1"});
  EXPECT_EQ(
      registry_.UpdateTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:a")
          .status(),
      FailedPrecondition("TVD blue comes from the policy directory; "
                         "edit its file instead"));
  xml = Policy("red", 2, {"node1"});
  EXPECT_EQ(
      registry_.UpdateTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:a")
          .status(),
      NotFound("no TVD named red"));
  AddAdminTvd("red", 2, {"node1"});
  xml = Policy("red", 1, {"node1"});
  EXPECT_EQ(
      registry_.UpdateTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:a")
          .status(),
      AlreadyExists("TVD id 1 is already used by TVD blue"));
}

// Members get the policy without its authorized hosts (member_view.h): a
// change of the hosts alone is no PolicyUpdate; a dropped member is evicted.
TEST_F(MasterRegistryTest, DroppingAHostEvictsItAndSendsNoPolicyUpdate) {
  AddAdminTvd("red", 2, {"node1", "node2"});
  MustJoin("red", "node1");
  MustJoin("red", "node2");
  std::string xml = Policy("red", 2, {"node1"});  // node2 no longer allowed
  auto out =
      registry_.UpdateTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:a");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Whats(out->decision),
            (std::vector<std::string>{
                "Transition red epoch 1", "Audit tvd-update red",
                "Transition red epoch 2 -node2", "Audit evicted red/node2"}));
  EXPECT_EQ(Targets(out->decision),
            (std::vector<std::string>{
                All("red", "node2", MessageType::kMembershipUpdate),
                T("red", "node2", MessageType::kLeaveNotice, true)}));
  auto notice =
      protocol::DecodeLeaveNotice(out->decision.notices[1].payload->view());
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(notice->reason, "no longer authorized by the policy of TVD red");
}

TEST_F(MasterRegistryTest, ARuleChangeReachesEveryMemberAsTheMemberView) {
  AddAdminTvd("red", 2, {"node1", "node2"});
  MustJoin("red", "node1");
  auto joined = registry_.Join("red", "node2", "10.0.0.2", "h");
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  const protocol::JoinGrant grant = GrantOf(*joined);
  const std::string view_before = grant.policy_xml;
  EXPECT_EQ(view_before.find("CN=node1"), std::string::npos) << view_before;
  auto parsed_before = policy::ParseTvdPolicy(view_before, "grant");
  ASSERT_TRUE(parsed_before.ok()) << parsed_before.status();
  EXPECT_EQ(grant.policy_digest, policy::CanonicalDigest(*parsed_before));
  ASSERT_TRUE(ApplyAll(joined->decision, store_).ok());

  std::string xml = Policy("red", 2, {"node1", "node2"});
  const std::string from = "attestation-interval=\"7\"";
  xml.replace(xml.find(from), from.size(), "attestation-interval=\"9\"");
  auto out =
      registry_.UpdateTvd(*policy::ParseTvdPolicy(xml, "t"), xml, "admin:a");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(
      Targets(out->decision),
      (std::vector<std::string>{All("red", "", MessageType::kPolicyUpdate)}));
  auto update =
      protocol::DecodePolicyUpdate(out->decision.notices[0].payload->view());
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->policy_xml.find("CN=node"), std::string::npos)
      << update->policy_xml;
  auto parsed = policy::ParseTvdPolicy(update->policy_xml, "update");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->authorized_hosts.empty());
  EXPECT_EQ(parsed->host_requirements.attestation_interval_seconds, 9u);
  EXPECT_EQ(update->policy_digest, policy::CanonicalDigest(*parsed));
}

TEST_F(MasterRegistryTest, RemoveTvdExactErrorsAndLeaveNotices) {
  EXPECT_EQ(registry_.RemoveTvd("red", "admin:a").status(),
            NotFound("no TVD named red"));
  EXPECT_EQ(registry_.RemoveTvd("blue", "admin:a").status(),
            FailedPrecondition("TVD blue comes from the policy directory; "
                               "remove its file instead"));
  AddAdminTvd("red", 2, {"node1"});
  MustJoin("red", "node1");
  auto out = registry_.RemoveTvd("red", "admin:alice");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Whats(out->decision),
            (std::vector<std::string>{"Transition red removed",
                                      "Audit tvd-remove red"}));
  EXPECT_EQ(Targets(out->decision),
            (std::vector<std::string>{
                T("red", "node1", MessageType::kLeaveNotice, true)}));
  auto notice =
      protocol::DecodeLeaveNotice(out->decision.notices[0].payload->view());
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(notice->reason, "TVD removed by admin:alice");
  EXPECT_EQ(registry_.Find("red"), nullptr);
  EXPECT_EQ(out->reply_json, "{\"removed\":\"red\"}");
}

TEST_F(MasterRegistryTest, PolicyFilesKeepEpochAndMembersOfTheStoredTvd) {
  TvdRegistry r;
  TvdRow row{"blue", Policy("blue", 1, {"node1"}), "", 4};
  ASSERT_TRUE(r.Restore(row, {"node1"}).ok());
  r.RestoreHost("node1", "10.0.0.1");
  // Same policy: nothing to write, now owned by the file.
  auto same = r.LoadFile("blue.xml", Policy("blue", 1, {"node1"}));
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->writes.empty());
  EXPECT_TRUE(r.Find("blue")->from_file);
  // Changed policy: stored with the old epoch, members kept.
  auto changed = r.LoadFile("blue.xml", Policy("blue", 1, {"node1", "node2"}));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(Whats(*changed),
            (std::vector<std::string>{"Transition blue epoch 4",
                                      "Audit tvd-update blue"}));
  EXPECT_TRUE(r.IsMember("blue", "node1"));
  EXPECT_EQ(Whats(r.RekeyAll()),
            (std::vector<std::string>{"Transition blue epoch 5"}));
  EXPECT_EQ(r.MembersOf(*r.Find("blue")),
            (std::vector<protocol::Member>{{"node1", "10.0.0.1"}}));
}

TEST_F(MasterRegistryTest, StoredPolicyThatNoLongerParsesNamesTheTvd) {
  TvdRegistry r;
  Status s = r.Restore({"blue", "<nonsense/>", "", 1}, {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("state db TVD blue"), std::string::npos)
      << s.ToString();
}

TEST_F(MasterRegistryTest,
       UsageClaimsExactErrorsAndTheirFigureLeavesWithTheHost) {
  std::string xml = Policy("green", 3, {"node1", "node2"});
  xml.insert(xml.find("</tvd-policy>"),
             "  <quotas><total vcpus=\"8\"/></quotas>\n");
  auto p = policy::ParseTvdPolicy(xml, "test");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto added = registry_.AddTvd(std::move(p).value(), xml, "admin:a");
  ASSERT_TRUE(added.ok());
  ASSERT_TRUE(ApplyAll(added->decision, store_).ok());
  const policy::QuotaAmounts none;
  const policy::QuotaAmounts four{1, 4, 1024, 0};
  EXPECT_EQ(registry_.ClaimUsage("red", "node1", none, four, true).status(),
            NotFound("no TVD named red"));
  EXPECT_EQ(registry_.ClaimUsage("green", "node1", none, four, true).status(),
            PermissionDenied(
                "host node1 has no attested member channel for TVD green"));
  MustJoin("green", "node1");
  MustJoin("green", "node2");
  EXPECT_EQ(registry_.ClaimUsage("green", "node1", none, four, false).status(),
            PermissionDenied(
                "host node1 has no attested member channel for TVD green"));
  auto d = registry_.ClaimUsage("green", "node1", none, four, true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Whats(*d), (std::vector<std::string>{"PutQuotaUsage green node1"}));
  EXPECT_TRUE(d->writes[0].isolated);  // a lost figure only over-counts
  ASSERT_TRUE(registry_.ClaimUsage("green", "node2", none, four, true).ok());
  EXPECT_EQ(
      registry_.ClaimUsage("green", "node2", four, {0, 1, 0, 0}, true).status(),
      ResourceExhausted("quota of TVD green exceeded: vcpus in total 8, in use "
                        "8, this domain asks for 1"));
  EXPECT_EQ(registry_.quotas().Total("green").vcpus, 8u);
  // Leaving takes the host's figure along.
  ASSERT_TRUE(registry_.Leave("green", Host("node2"), "node2", "bye").ok());
  EXPECT_EQ(registry_.quotas().Total("green").vcpus, 4u);
  // A TVD without a total accepts claims and stores nothing.
  MustJoin("blue", "node1");
  auto blue = registry_.ClaimUsage("blue", "node1", none, four, true);
  ASSERT_TRUE(blue.ok());
  EXPECT_TRUE(blue->writes.empty());
  // Removing the TVD forgets its figures.
  ASSERT_TRUE(registry_.RemoveTvd("green", "admin:a").ok());
  EXPECT_EQ(registry_.quotas().Total("green").vcpus, 0u);
}

}  // namespace
}  // namespace tvd::master
