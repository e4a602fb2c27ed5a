// Payloads of the master <-> proxy, tenant and admin protocol
// (channel/frame.h types 100..121), encoded with channel/wire.h.
//
// Every Decode* is strict: a truncated field, a length above its limit, an
// out-of-range enum, an invalid name or trailing bytes is a ProtocolError
// whose message names the message and the field, e.g.
//   "JoinRequest: message truncated in field 'underlay'",
//   "JoinGrant: field 'key' must be 32 bytes, got 5",
//   "VmReport: 2 unexpected trailing bytes in payload".
// Decoders never read past their input; they are fuzzed
// (tests/fuzz/protocol).
//
// Conversation shapes (docs/master.md has the full picture):
//  * Member channel (host certificate, long-lived, master-driven):
//      host -> JoinRequest
//      [attestation: EnrolRequest... / AttestHello ... AttestVerdict]
//      master -> JoinGrant
//      then the master pushes MembershipUpdate, PolicyUpdate,
//      AttestChallenge (re-attestation; host answers AttestEvidence, master
//      sends AttestVerdict) and finally LeaveNotice (evicted / TVD removed).
//      The host sends nothing on its own on this channel except LeaveNotice
//      (then the master answers kAck and closes).
//  * Request channel (host certificate, one request per connection):
//      DiskKeyRequest -> [master: AttestChallenge; host: AttestEvidence
//                         (quote bound to this connection); master:
//                         AttestVerdict] -> DiskKeyGrant | kError
//      VmReport       -> kAck | kError
//      LeaveNotice    -> kAck | kError
//      UsageClaim     -> kAck | kError (ResourceExhausted: over the TVD's
//                        total quota)
//      VtpmKeyRequest -> [attestation as for DiskKeyRequest] -> VtpmKeyGrant
//                        | kError
//      VtpmRecord     -> kAck | kError
//      GuestQuoteReport -> kAck | kError
//  * Member channel, master-driven requests: GuestQuoteOrder (pushed like
//      a PolicyUpdate); the host answers later with a GuestQuoteReport on a
//      request channel, never on the member channel.
//  * Tenant channel (tenant certificate, one request):
//      VmAttestRequest -> VmAttestEvidence | kError
//  * Admin channel (admin certificate, any number of requests):
//      TvdAdd / TvdUpdate / TvdRemove / AdminQuery -> AdminReply | kError
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tvd/policy/quota.h"
#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::protocol {

// Limits that keep a hostile payload from costing much.
inline constexpr std::size_t kMaxName = 64;     // TVD, host, VM names
inline constexpr std::size_t kMaxAddress = 64;  // underlay address
inline constexpr std::size_t kMaxUuid = 36;
inline constexpr std::size_t kMaxPolicyXml = 512 * 1024;
// Members of one TVD. A JoinGrant carries the whole list: at most
// kMaxMembers x (2 + kMaxName + 2 + kMaxAddress) bytes, 2.1 MiB
// (kMemberChannelMaxPayload bounds what a host reads on its member channel).
inline constexpr std::size_t kMaxMembers = 16384;
// Changes in one MembershipUpdate (the master sends one per decision).
inline constexpr std::size_t kMaxMemberChanges = 4096;
inline constexpr std::size_t kMaxReason = 1024;
// An AdminReply's JSON text: within kMaxAdminReplyPayload (below).
inline constexpr std::size_t kMaxReplyText = std::size_t{63} << 20;
inline constexpr std::size_t kTvdKeySize = 32;
inline constexpr std::size_t kDiskKeySize = 32;
inline constexpr std::size_t kVtpmKeySize = 32;
// A marshalled TPM2B_PUBLIC (an RSA-2048 EK is about 320 bytes; the largest
// RSA-4096 key with a policy digest stays under 700).
inline constexpr std::size_t kMaxTpmPublic = 1024;

// A member host of a TVD: its identity name (the CN of its certificate,
// e.g. "node1") and the underlay address its tunnels terminate on.
struct Member {
  std::string host;
  std::string underlay;
  friend bool operator==(const Member&, const Member&) = default;
};

// host -> master, first frame of a member channel.
struct JoinRequest {
  std::string tvd;
  std::string underlay;  // IPv4/IPv6 literal the host's tunnels use
  // The policy digest the host already enforces (reconnect after a master
  // restart or a dropped channel); absent on a first join.
  std::optional<Sha256Digest> known_policy_digest;
};

// master -> host after authorization and attestation.
struct JoinGrant {
  std::string tvd;
  std::string policy_xml;
  Sha256Digest policy_digest{};  // CanonicalDigest of the policy
  std::uint64_t epoch = 0;       // key epoch, >= 1
  SecureBytes key;               // kTvdKeySize bytes
  std::vector<Member> members;   // sorted by host, includes the joiner
  // Seconds between re-attestations, so the host can bound its idle wait.
  std::uint32_t attestation_interval_seconds = 0;
};

enum class MembershipChange : std::uint8_t {
  kJoined = 1,  // added, or its underlay address changed
  kLeft = 2,
  kEvicted = 3,
  kRekeyed = 4,  // new epoch without a membership change (master restart)
};
std::string_view MembershipChangeName(MembershipChange change);

// One change to a TVD's member list. `member.underlay` is set for kJoined
// and empty otherwise; kRekeyed is never a change (an update without
// changes and with a key is a rekey).
struct MemberChange {
  MembershipChange change = MembershipChange::kJoined;
  Member member;
  friend bool operator==(const MemberChange&, const MemberChange&) = default;
};

// Size bound of a JoinGrant with kMaxMembers longest names plus the rest.
inline constexpr std::size_t kMemberChannelMaxPayload =
    kMaxMembers * (2 + kMaxName + 2 + kMaxAddress) + kMaxPolicyXml + 4096;

// master -> members. What changed since the member's previous update (or
// its JoinGrant): the host applies `changes` in order to the list it holds
// (MemberList) and must then hold `member_count` members; a host whose
// list disagrees has missed something and joins again for the whole list.
// Deltas keep a join storm linear in bytes per member: a whole list per
// update made N joins cost N^2/2 member entries per member.
struct MembershipUpdate {
  std::string tvd;
  std::uint64_t epoch = 0;
  std::vector<MemberChange> changes;
  std::uint32_t member_count = 0;
  SecureBytes key;  // empty, or the new key when epoch changed
};

// host -> master (leaving), or master -> host (evicted / TVD removed: leave
// now, `reason` says why).
struct LeaveNotice {
  std::string tvd;
  std::string host;
  std::string reason;
};

// master -> members.
struct PolicyUpdate {
  std::string tvd;
  std::string policy_xml;
  Sha256Digest policy_digest{};
};

// host -> master (request channel).
struct DiskKeyRequest {
  std::string tvd;
  std::string vm;
};

// master -> host.
struct DiskKeyGrant {
  std::string tvd;
  std::string vm;
  SecureBytes key;  // kDiskKeySize bytes
};

// host -> master (request channel): the state key of VM `vm`'s vTPM, and
// master -> host. The same fields (and wire layout) as the disk key
// messages, with their own message types and names in errors; the key is
// kVtpmKeySize bytes.
struct VtpmKeyRequest {
  std::string tvd;
  std::string vm;
};
struct VtpmKeyGrant {
  std::string tvd;
  std::string vm;
  SecureBytes key;
};

// host -> master (request channel): the proxy created VM `vm`'s vTPM and
// read these public areas from it (marshalled TPM2B_PUBLIC each, 1 to
// kMaxTpmPublic bytes): the endorsement key (TCG default RSA-2048 template)
// and a restricted signing key under the endorsement hierarchy made from a
// fixed template (attest/vtpm_ak_template.h), which the guest quote tool
// re-creates. The master checks what they are (docs/master.md).
struct VtpmRecord {
  std::string tvd;
  std::string vm;
  std::vector<std::uint8_t> ek_public;
  std::vector<std::uint8_t> ak_public;
  friend bool operator==(const VtpmRecord&, const VtpmRecord&) = default;
};

// host -> master (request channel).
struct VmReport {
  std::string tvd;
  std::string vm;
  bool attached = true;  // false: detached
  // The domain's UUID (8-4-4-4-12 hex digits), or empty
  // when the proxy does not know it (always allowed on a detach).
  std::string uuid;
};

// host -> master (request channel): what the TVD holds on this host and
// what a call about to be forwarded adds (zero: a report). The master grants
// it when, for every kind `adds` grows, the sum over all the TVD's hosts
// stays within the policy's total quota, and then records held + adds as
// this host's usage (tvd::policy::QuotaAmounts units: KiB, bytes).
struct UsageClaim {
  std::string tvd;
  policy::QuotaAmounts held;
  policy::QuotaAmounts adds;
  friend bool operator==(const UsageClaim&, const UsageClaim&) = default;
};

// The deep quote of a VM (docs/vtpm.md).
//
// tenant -> master: the evidence for VM `vm` of TVD `tvd`, its vTPM
// quoting `pcrs` (SHA-256 bank, 0-23, ascending, each once, at least one)
// over `nonce` (16-64 bytes, attest::kMinGuestNonce..kMaxGuestNonce), which
// the tenant drew: a nonce the verifier picks is one nobody could have
// had the guest quote before.
struct VmAttestRequest {
  std::string tvd;
  std::string vm;
  std::vector<std::uint8_t> nonce;
  std::vector<std::uint32_t> pcrs;
  friend bool operator==(const VmAttestRequest&,
                         const VmAttestRequest&) = default;
};
// master -> tenant: attest::EncodeDeepQuoteEvidence's JSON, at most
// attest::kMaxDeepQuoteEvidence bytes; the tenant verifies it itself.
struct VmAttestEvidence {
  std::string json;
};
// master -> host, pushed on the member channel of `tvd`: ask the guest
// agent of VM `vm` for a quote (attest/guest_quote.h) and answer with a
// GuestQuoteReport carrying `id`.
struct GuestQuoteOrder {
  std::uint64_t id = 0;
  std::string tvd;
  std::string vm;
  std::vector<std::uint8_t> nonce;
  std::vector<std::uint32_t> pcrs;
  friend bool operator==(const GuestQuoteOrder&,
                         const GuestQuoteOrder&) = default;
};
// host -> master (request channel): the guest agent's answer line as it
// came (attest::ParseGuestQuoteAnswer reads it at the master; at most
// attest::kMaxGuestLine bytes), or, when the host could not ask the guest
// (no such VM running here, no agent channel, no answer in time), an empty
// `answer` and the reason in `error` (at most kMaxReason bytes).
struct GuestQuoteReport {
  std::uint64_t id = 0;
  std::string tvd;
  std::string vm;
  std::string answer;
  std::string error;
  friend bool operator==(const GuestQuoteReport&,
                         const GuestQuoteReport&) = default;
};

// admin -> master.
struct TvdAdd {
  std::string policy_xml;
};
struct TvdUpdate {
  std::string policy_xml;
};
struct TvdRemove {
  std::string tvd;
};

enum class AdminQueryKind : std::uint8_t {
  kTvds = 1,    // every TVD with its hosts, VMs, attestation state
  kTvd = 2,     // one TVD (name required)
  kHosts = 3,   // every host with TVDs and attestation state
  kAudit = 4,   // the most recent audit rows
  kMaster = 5,  // this master replica: store, duties, lock, member channels
};
struct AdminQuery {
  AdminQueryKind kind = AdminQueryKind::kTvds;
  std::string name;  // kTvd: the TVD; empty otherwise
};

// master -> admin: the result as JSON text (docs/master.md lists the shape).
struct AdminReply {
  std::string json;
};

// The largest AdminReply frame an admin client reads. The answer about a
// TVD of 10,000 hosts is about 1.3 MB, more than a channel's default frame
// limit (channel/frame.h, 1 MiB); the peer is the master, authenticated by
// its certificate, and a reply grows with the hosts the VDC has.
inline constexpr std::size_t kMaxAdminReplyPayload = std::size_t{64} << 20;

std::vector<std::uint8_t> Encode(const JoinRequest& m);
std::vector<std::uint8_t> Encode(const JoinGrant& m);
// The same grant with `members` in place of m.members (which is not read):
// the master encodes its roster without copying it into a grant first.
// Both write into one buffer of the exact size, so the key is never left
// in a buffer the encoding outgrew.
std::vector<std::uint8_t> Encode(const JoinGrant& m,
                                 std::span<const Member> members);
std::vector<std::uint8_t> Encode(const MembershipUpdate& m);
std::vector<std::uint8_t> Encode(const LeaveNotice& m);
std::vector<std::uint8_t> Encode(const PolicyUpdate& m);
std::vector<std::uint8_t> Encode(const DiskKeyRequest& m);
std::vector<std::uint8_t> Encode(const DiskKeyGrant& m);
std::vector<std::uint8_t> Encode(const VmReport& m);
std::vector<std::uint8_t> Encode(const VtpmKeyRequest& m);
std::vector<std::uint8_t> Encode(const VtpmKeyGrant& m);
std::vector<std::uint8_t> Encode(const VtpmRecord& m);
std::vector<std::uint8_t> Encode(const UsageClaim& m);
std::vector<std::uint8_t> Encode(const VmAttestRequest& m);
std::vector<std::uint8_t> Encode(const VmAttestEvidence& m);
std::vector<std::uint8_t> Encode(const GuestQuoteOrder& m);
std::vector<std::uint8_t> Encode(const GuestQuoteReport& m);
std::vector<std::uint8_t> Encode(const TvdAdd& m);
std::vector<std::uint8_t> Encode(const TvdUpdate& m);
std::vector<std::uint8_t> Encode(const TvdRemove& m);
std::vector<std::uint8_t> Encode(const AdminQuery& m);
std::vector<std::uint8_t> Encode(const AdminReply& m);

StatusOr<JoinRequest> DecodeJoinRequest(std::span<const std::uint8_t> in);
StatusOr<JoinGrant> DecodeJoinGrant(std::span<const std::uint8_t> in);
StatusOr<MembershipUpdate> DecodeMembershipUpdate(
    std::span<const std::uint8_t> in);
StatusOr<LeaveNotice> DecodeLeaveNotice(std::span<const std::uint8_t> in);
StatusOr<PolicyUpdate> DecodePolicyUpdate(std::span<const std::uint8_t> in);
StatusOr<DiskKeyRequest> DecodeDiskKeyRequest(std::span<const std::uint8_t> in);
StatusOr<DiskKeyGrant> DecodeDiskKeyGrant(std::span<const std::uint8_t> in);
StatusOr<VmReport> DecodeVmReport(std::span<const std::uint8_t> in);
StatusOr<VtpmKeyRequest> DecodeVtpmKeyRequest(std::span<const std::uint8_t> in);
StatusOr<VtpmKeyGrant> DecodeVtpmKeyGrant(std::span<const std::uint8_t> in);
StatusOr<VtpmRecord> DecodeVtpmRecord(std::span<const std::uint8_t> in);
StatusOr<UsageClaim> DecodeUsageClaim(std::span<const std::uint8_t> in);
StatusOr<VmAttestRequest> DecodeVmAttestRequest(
    std::span<const std::uint8_t> in);
StatusOr<VmAttestEvidence> DecodeVmAttestEvidence(
    std::span<const std::uint8_t> in);
StatusOr<GuestQuoteOrder> DecodeGuestQuoteOrder(
    std::span<const std::uint8_t> in);
StatusOr<GuestQuoteReport> DecodeGuestQuoteReport(
    std::span<const std::uint8_t> in);
StatusOr<TvdAdd> DecodeTvdAdd(std::span<const std::uint8_t> in);
StatusOr<TvdUpdate> DecodeTvdUpdate(std::span<const std::uint8_t> in);
StatusOr<TvdRemove> DecodeTvdRemove(std::span<const std::uint8_t> in);
StatusOr<AdminQuery> DecodeAdminQuery(std::span<const std::uint8_t> in);
StatusOr<AdminReply> DecodeAdminReply(std::span<const std::uint8_t> in);

}  // namespace tvd::protocol
