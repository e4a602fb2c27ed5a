#include "tvd/protocol/messages.h"

#include <gtest/gtest.h>

#include "tvd/channel/frame.h"
#include "tvd/channel/wire.h"

namespace tvd::protocol {
namespace {

Sha256Digest DigestOf(std::string_view s) { return Sha256(s); }

SecureBytes Key(std::uint8_t fill) {
  std::vector<std::uint8_t> k(32, fill);
  return SecureBytes(k);
}

// A grant of TVD blue with policy <p/>, no members yet.
JoinGrant Grant(std::uint64_t epoch, SecureBytes key) {
  JoinGrant g;
  g.tvd = "blue";
  g.policy_xml = "<p/>";
  g.epoch = epoch;
  g.key = std::move(key);
  return g;
}

TEST(ProtocolMessagesTest, JoinRequestRoundTrip) {
  JoinRequest m{"blue", "198.18.0.1", std::nullopt};
  auto d = DecodeJoinRequest(Encode(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->tvd, "blue");
  EXPECT_EQ(d->underlay, "198.18.0.1");
  EXPECT_FALSE(d->known_policy_digest.has_value());
  m.known_policy_digest = DigestOf("p");
  d = DecodeJoinRequest(Encode(m));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->known_policy_digest, DigestOf("p"));
}

TEST(ProtocolMessagesTest, JoinGrantRoundTrip) {
  JoinGrant m;
  m.tvd = "blue";
  m.policy_xml = "<tvd-policy/>";
  m.policy_digest = DigestOf("x");
  m.epoch = 3;
  m.key = Key(7);
  m.members = {{"node1", "198.18.0.1"}, {"node2", "fd00::2"}};
  m.attestation_interval_seconds = 30;
  auto d = DecodeJoinGrant(Encode(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->tvd, "blue");
  EXPECT_EQ(d->policy_xml, "<tvd-policy/>");
  EXPECT_EQ(d->policy_digest, DigestOf("x"));
  EXPECT_EQ(d->epoch, 3u);
  EXPECT_TRUE(d->key.Equals(Key(7).view()));
  EXPECT_EQ(d->members, m.members);
  EXPECT_EQ(d->attestation_interval_seconds, 30u);
}

TEST(ProtocolMessagesTest, MembershipUpdateRoundTripWithAndWithoutKey) {
  MembershipUpdate m;
  m.tvd = "blue";
  m.epoch = 4;
  m.changes = {{MembershipChange::kEvicted, {"node2", ""}},
               {MembershipChange::kJoined, {"node3", "198.18.0.3"}}};
  m.member_count = 2;
  auto d = DecodeMembershipUpdate(Encode(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->changes, m.changes);
  EXPECT_EQ(d->member_count, 2u);
  EXPECT_TRUE(d->key.empty());
  m.key = Key(9);
  m.changes.clear();  // a rekey
  d = DecodeMembershipUpdate(Encode(m));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->key.Equals(Key(9).view()));
  EXPECT_TRUE(d->changes.empty());
}

TEST(ProtocolMessagesTest, MembershipUpdateChangesAreChecked) {
  MembershipUpdate m;
  m.tvd = "blue";
  m.epoch = 1;
  m.changes = {{MembershipChange::kJoined, {"n1", "not-an-address"}}};
  EXPECT_EQ(DecodeMembershipUpdate(Encode(m)).status(),
            ProtocolError("MembershipUpdate: field 'member underlay' is not "
                          "an IP address literal"));
  m.changes = {{MembershipChange::kRekeyed, {"n1", ""}}};
  EXPECT_EQ(DecodeMembershipUpdate(Encode(m)).status(),
            ProtocolError("MembershipUpdate: field 'change' has unknown "
                          "value 4"));
  m.changes = {{MembershipChange::kLeft, {"n1", "1.2.3.4"}}};
  EXPECT_FALSE(DecodeMembershipUpdate(Encode(m)).ok());
  m.changes.assign(kMaxMemberChanges + 1,
                   {MembershipChange::kLeft, {"n1", ""}});
  EXPECT_EQ(DecodeMembershipUpdate(Encode(m)).status(),
            ProtocolError("MembershipUpdate: change count 4097 is above the "
                          "limit 4096"));
  m.changes.clear();
  m.member_count = kMaxMembers + 1;
  EXPECT_EQ(DecodeMembershipUpdate(Encode(m)).status(),
            ProtocolError("MembershipUpdate: field 'member_count' 16385 is "
                          "above the limit 16384"));
}

TEST(ProtocolMessagesTest, OtherMessagesRoundTrip) {
  auto leave = DecodeLeaveNotice(Encode(LeaveNotice{"red", "n1", "evicted"}));
  ASSERT_TRUE(leave.ok());
  EXPECT_EQ(leave->reason, "evicted");
  auto pu =
      DecodePolicyUpdate(Encode(PolicyUpdate{"red", "<x/>", DigestOf("y")}));
  ASSERT_TRUE(pu.ok());
  EXPECT_EQ(pu->policy_digest, DigestOf("y"));
  auto dkr = DecodeDiskKeyRequest(Encode(DiskKeyRequest{"red", "web1"}));
  ASSERT_TRUE(dkr.ok());
  EXPECT_EQ(dkr->vm, "web1");
  auto dkg = DecodeDiskKeyGrant(Encode(DiskKeyGrant{"red", "web1", Key(1)}));
  ASSERT_TRUE(dkg.ok());
  EXPECT_TRUE(dkg->key.Equals(Key(1).view()));
  auto vkr = DecodeVtpmKeyRequest(Encode(VtpmKeyRequest{"red", "web1"}));
  ASSERT_TRUE(vkr.ok());
  EXPECT_EQ(vkr->vm, "web1");
  auto vkg = DecodeVtpmKeyGrant(Encode(VtpmKeyGrant{"red", "web1", Key(2)}));
  ASSERT_TRUE(vkg.ok());
  EXPECT_TRUE(vkg->key.Equals(Key(2).view()));
  const VtpmRecord record{"red", "web1", {1, 2, 3}, {4, 5}};
  auto vrec = DecodeVtpmRecord(Encode(record));
  ASSERT_TRUE(vrec.ok());
  EXPECT_EQ(*vrec, record);
  auto vr = DecodeVmReport(Encode(VmReport{"red", "web1", false, ""}));
  ASSERT_TRUE(vr.ok());
  EXPECT_FALSE(vr->attached);
  EXPECT_EQ(vr->uuid, "");
  auto vu = DecodeVmReport(Encode(
      VmReport{"red", "web1", true, "6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60"}));
  ASSERT_TRUE(vu.ok());
  EXPECT_TRUE(vu->attached);
  EXPECT_EQ(vu->uuid, "6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60");
  EXPECT_EQ(DecodeTvdAdd(Encode(TvdAdd{"<a/>"}))->policy_xml, "<a/>");
  EXPECT_EQ(DecodeTvdUpdate(Encode(TvdUpdate{"<b/>"}))->policy_xml, "<b/>");
  EXPECT_EQ(DecodeTvdRemove(Encode(TvdRemove{"red"}))->tvd, "red");
  auto q = DecodeAdminQuery(Encode(AdminQuery{AdminQueryKind::kTvd, "red"}));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->kind, AdminQueryKind::kTvd);
  EXPECT_EQ(DecodeAdminReply(Encode(AdminReply{"{}"}))->json, "{}");
}

// The master's answer about a TVD of 10,000 members is about 1.3 MB; it
// fits an AdminReply and the frame an admin client reads.
TEST(ProtocolMessagesTest, AnAdminReplyAboutTenThousandMembersFits) {
  const std::string json(1283401, 'x');
  auto encoded = Encode(AdminReply{json});
  EXPECT_LE(encoded.size(), kMaxAdminReplyPayload);
  auto decoded = DecodeAdminReply(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->json.size(), json.size());
  EXPECT_GT(encoded.size(), channel::kDefaultMaxPayload);
}

TEST(ProtocolMessagesTest, UsageClaimRoundTripsAndNamesItsFields) {
  const UsageClaim claim{"blue", {2, 4, 4u << 20, 20ull << 30}, {0, 2, 0, 1}};
  auto decoded = DecodeUsageClaim(Encode(claim));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, claim);
  auto bytes = Encode(claim);
  bytes.resize(bytes.size() - 4);
  EXPECT_EQ(DecodeUsageClaim(bytes).status(),
            ProtocolError("UsageClaim: message truncated in field "
                          "'adds.disk_bytes'"));
  EXPECT_EQ(DecodeUsageClaim(Encode(UsageClaim{"../x", {}, {}})).status(),
            ProtocolError("UsageClaim: field 'tvd' is not a valid TVD name"));
}

// A grant is written into one buffer of its exact size: the key, written
// before the member list, is never left behind in a buffer the encoding
// outgrew. The master's form (members from its roster) is the same bytes.
TEST(ProtocolMessagesTest, AGrantIsEncodedIntoOneBufferOfItsSize) {
  JoinGrant g = Grant(3, Key(7));
  for (int i = 0; i < 1000; ++i) {
    g.members.push_back({"host" + std::to_string(10000 + i),
                         "10.0.3." + std::to_string(i % 256)});
  }
  g.attestation_interval_seconds = 60;
  const std::vector<std::uint8_t> bytes = Encode(g);
  EXPECT_EQ(bytes.capacity(), bytes.size());
  std::vector<Member> members = std::move(g.members);
  g.members.clear();
  EXPECT_EQ(Encode(g, members), bytes);
  auto decoded = DecodeJoinGrant(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->members, members);
  EXPECT_TRUE(decoded->key.Equals(g.key.view()));
}

// Member lists and changes are read as views into the payload (the fast
// path of WireReader::StringView); what the checked path said about a
// field that does not fit, they still say.
TEST(ProtocolMessagesTest, MemberEntriesThatDoNotFitAreNamed) {
  JoinGrant g = Grant(1, Key(1));
  g.members = {{"a", "10.0.0.1"}, {std::string(65, 'b'), "10.0.0.2"}};
  EXPECT_EQ(DecodeJoinGrant(Encode(g)).status(),
            ProtocolError("JoinGrant: field 'member host' has 65 bytes, more "
                          "than the maximum 64"));
  g.members = {{"a", "10.0.0.1"}, {"b", "10.0.0.2"}};
  auto bytes = Encode(g);
  bytes.resize(bytes.size() - 4 - 3);  // into the last underlay
  EXPECT_EQ(DecodeJoinGrant(bytes).status(),
            ProtocolError("JoinGrant: message truncated in field "
                          "'member underlay'"));

  // A change count far above the changes that follow: refused as
  // truncated, after reserving no more than the payload could hold.
  channel::WireWriter w;
  w.String("blue");
  w.U64(1);
  w.U32(static_cast<std::uint32_t>(kMaxMemberChanges));
  w.U8(1);
  w.String("a");
  w.String("10.0.0.1");
  EXPECT_EQ(DecodeMembershipUpdate(w.data()).status(),
            ProtocolError("MembershipUpdate: message truncated in field "
                          "'change'"));
  MembershipUpdate u;
  u.tvd = "blue";
  u.epoch = 1;
  u.changes = {{MembershipChange::kLeft, {"a", "10.0.0.1"}}};
  EXPECT_EQ(DecodeMembershipUpdate(Encode(u)).status(),
            ProtocolError("MembershipUpdate: field 'member underlay' has 8 "
                          "bytes, more than the maximum 0"));
}

TEST(ProtocolMessagesTest, ExactDecodeErrors) {
  // Truncated.
  auto bytes = Encode(JoinRequest{"blue", "198.18.0.1", std::nullopt});
  bytes.resize(10);
  EXPECT_EQ(DecodeJoinRequest(bytes).status(),
            ProtocolError("JoinRequest: message truncated in field "
                          "'underlay'"));
  // Trailing bytes.
  auto vm = Encode(VmReport{"red", "web1", true, ""});
  vm.push_back(0);
  vm.push_back(0);
  EXPECT_EQ(DecodeVmReport(vm).status(),
            ProtocolError("VmReport: 2 unexpected trailing bytes in payload"));
  // A VM report's uuid is a UUID or empty.
  EXPECT_EQ(DecodeVmReport(Encode(VmReport{"red", "web1", true, "not-a-uuid"}))
                .status(),
            ProtocolError("VmReport: field 'uuid' is not a UUID"));
  // Wrong key size.
  JoinGrant g = Grant(1, SecureBytes(5));
  EXPECT_EQ(DecodeJoinGrant(Encode(g)).status(),
            ProtocolError("JoinGrant: field 'key' must be 32 bytes, got 5"));
  g.key = Key(1);
  g.epoch = 0;
  EXPECT_EQ(DecodeJoinGrant(Encode(g)).status(),
            ProtocolError("JoinGrant: field 'epoch' is 0"));
  // Names.
  EXPECT_EQ(
      DecodeJoinRequest(Encode(JoinRequest{"../x", "1.2.3.4", {}})).status(),
      ProtocolError("JoinRequest: field 'tvd' is not a valid TVD name"));
  EXPECT_EQ(DecodeJoinRequest(Encode(JoinRequest{"blue", "1.2.3.4; rm", {}}))
                .status(),
            ProtocolError("JoinRequest: field 'underlay' is not an IP "
                          "address literal"));
  // Unsorted members.
  JoinGrant m = Grant(1, Key(1));
  m.members = {{"b", "1.1.1.1"}, {"a", "1.1.1.2"}};
  EXPECT_EQ(DecodeJoinGrant(Encode(m)).status(),
            ProtocolError("JoinGrant: members are not sorted by host "
                          "without duplicates (at 'a')"));
  // Enum out of range.
  channel::WireWriter w;
  w.U8(9);
  w.String("");
  EXPECT_EQ(DecodeAdminQuery(w.data()).status(),
            ProtocolError("AdminQuery: field 'kind' has unknown value 9"));
  EXPECT_EQ(
      DecodeAdminQuery(Encode(AdminQuery{AdminQueryKind::kTvds, "x"})).status(),
      ProtocolError("AdminQuery: field 'name' must be empty for this "
                    "kind"));
  // Empty policy.
  EXPECT_EQ(DecodeTvdAdd(Encode(TvdAdd{""})).status(),
            ProtocolError("TvdAdd: field 'policy_xml' is empty"));
}

// vTPM evidence: truncated, oversized or empty public areas.
TEST(ProtocolMessagesTest, VtpmRecordErrors) {
  auto bytes = Encode(VtpmRecord{"blue", "web1", {1, 2, 3}, {4, 5}});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(
        DecodeVtpmRecord(std::span<const std::uint8_t>(bytes.data(), n)).ok())
        << n;
  }
  bytes.resize(bytes.size() - 1);
  EXPECT_EQ(DecodeVtpmRecord(bytes).status(),
            ProtocolError("VtpmRecord: message truncated in field "
                          "'ak_public'"));
  EXPECT_EQ(
      DecodeVtpmRecord(
          Encode(VtpmRecord{
              "blue", "web1", std::vector<std::uint8_t>(1025, 1), {4}}))
          .status(),
      ProtocolError("VtpmRecord: field 'ek_public' has 1025 bytes, more than "
                    "the maximum 1024"));
  EXPECT_EQ(
      DecodeVtpmRecord(Encode(VtpmRecord{"blue", "web1", {1}, {}})).status(),
      ProtocolError("VtpmRecord: field 'ak_public' is empty"));
  EXPECT_EQ(
      DecodeVtpmRecord(Encode(VtpmRecord{"blue", "web/1", {1}, {2}})).status(),
      ProtocolError("VtpmRecord: field 'vm' is not a valid VM name"));
  VtpmKeyGrant short_key{"blue", "web1", SecureBytes(16)};
  EXPECT_EQ(DecodeVtpmKeyGrant(Encode(short_key)).status(),
            ProtocolError("VtpmKeyGrant: field 'key' must be 32 bytes, got "
                          "16"));
}

std::vector<std::uint8_t> Nonce(std::size_t n) {
  return std::vector<std::uint8_t>(n, 0xab);
}

TEST(ProtocolMessagesTest, DeepQuoteMessagesRoundTrip) {
  const VmAttestRequest request{"blue", "web1", Nonce(32), {0, 7, 16}};
  auto r = DecodeVmAttestRequest(Encode(request));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, request);
  auto e = DecodeVmAttestEvidence(Encode(VmAttestEvidence{"{\"a\":1}"}));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->json, "{\"a\":1}");
  const GuestQuoteOrder order{7, "blue", "web1", Nonce(16), {23}};
  auto o = DecodeGuestQuoteOrder(Encode(order));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(*o, order);
  const GuestQuoteReport answered{7, "blue", "web1", "ok 00 00 00 0=00\n", ""};
  auto a = DecodeGuestQuoteReport(Encode(answered));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, answered);
  const GuestQuoteReport failed{8, "blue", "web1", "", "VM not running"};
  auto f = DecodeGuestQuoteReport(Encode(failed));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(*f, failed);
}

TEST(ProtocolMessagesTest, DeepQuoteMessageErrors) {
  EXPECT_EQ(DecodeVmAttestRequest(
                Encode(VmAttestRequest{"blue", "web1", Nonce(15), {0}}))
                .status(),
            ProtocolError("VmAttestRequest: field 'nonce' has 15 bytes; 16 to "
                          "64 are allowed"));
  EXPECT_EQ(DecodeVmAttestRequest(
                Encode(VmAttestRequest{"blue", "web1", Nonce(65), {0}}))
                .status(),
            ProtocolError("VmAttestRequest: field 'nonce' has 65 bytes, more "
                          "than the maximum 64"));
  EXPECT_EQ(DecodeVmAttestRequest(
                Encode(VmAttestRequest{"blue", "web1", Nonce(32), {}}))
                .status(),
            ProtocolError("VmAttestRequest: field 'pcrs' lists 0 PCRs; 1 to "
                          "24 are allowed"));
  EXPECT_EQ(DecodeGuestQuoteOrder(
                Encode(GuestQuoteOrder{1, "blue", "web1", Nonce(32), {7, 3}}))
                .status(),
            ProtocolError("GuestQuoteOrder: field 'pcrs' is not ascending "
                          "without repeats"));
  EXPECT_EQ(DecodeGuestQuoteOrder(
                Encode(GuestQuoteOrder{1, "blue", "web1", Nonce(32), {24}}))
                .status(),
            ProtocolError("GuestQuoteOrder: field 'pcrs': PCR 24 is not "
                          "0-23"));
  EXPECT_EQ(DecodeGuestQuoteReport(
                Encode(GuestQuoteReport{1, "blue", "web1", "ok\n", "and"}))
                .status(),
            ProtocolError("GuestQuoteReport: exactly one of the fields "
                          "'answer' and 'error' must be set"));
  EXPECT_EQ(
      DecodeGuestQuoteReport(Encode(GuestQuoteReport{1, "blue", "web1", "", ""}))
          .status(),
      ProtocolError("GuestQuoteReport: exactly one of the fields 'answer' "
                    "and 'error' must be set"));
  EXPECT_EQ(DecodeVmAttestRequest(
                Encode(VmAttestRequest{"blue", "../x", Nonce(32), {0}}))
                .status(),
            ProtocolError("VmAttestRequest: field 'vm' is not a valid VM "
                          "name"));
  auto bytes = Encode(GuestQuoteOrder{1, "blue", "web1", Nonce(32), {0, 1}});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(
        DecodeGuestQuoteOrder(std::span<const std::uint8_t>(bytes.data(), n))
            .ok())
        << n;
  }
}

TEST(ProtocolMessagesTest, EveryPrefixOfAValidMessageIsAnError) {
  JoinGrant g = Grant(1, Key(1));
  g.members = {{"n1", "1.2.3.4"}};
  auto bytes = Encode(g);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::span<const std::uint8_t> prefix(bytes.data(), n);
    EXPECT_FALSE(DecodeJoinGrant(prefix).ok()) << n;
  }
}

}  // namespace
}  // namespace tvd::protocol
