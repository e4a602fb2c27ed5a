#include "tvd/protocol/messages.h"

#include <algorithm>
#include <string_view>

#include "tvd/attest/deep_quote.h"
#include "tvd/attest/guest_quote.h"
#include "tvd/channel/wire.h"
#include "tvd/pki/identity.h"
#include "tvd/policy/values.h"

namespace tvd::protocol {
namespace {

using channel::WireReader;
using channel::WireWriter;

// Prefixes every decoding error with the message name.
Status In(std::string_view message, const Status& s) {
  if (s.ok()) return s;
  return ProtocolError(std::string(message) + ": " + s.message());
}

// Reads a string field and checks it with `valid`; `what` names the rule.
// The view points into the reader's input.
StatusOr<std::string_view> NameView(WireReader& r, std::string_view field,
                                    bool (*valid)(std::string_view),
                                    std::string_view what) {
  TVD_ASSIGN_OR_RETURN(std::string_view s, r.StringView(field, kMaxName));
  if (!valid(s)) {
    return ProtocolError("field '" + std::string(field) + "' is not " +
                         std::string(what));
  }
  return s;
}

StatusOr<std::string> NameField(WireReader& r, std::string_view field,
                                bool (*valid)(std::string_view),
                                std::string_view what) {
  TVD_ASSIGN_OR_RETURN(std::string_view s, NameView(r, field, valid, what));
  return std::string(s);
}

bool ValidTvd(std::string_view s) { return policy::IsTvdName(s); }
bool ValidHost(std::string_view s) { return pki::IsValidName(s); }
bool ValidVm(std::string_view s) { return policy::IsVmName(s); }

StatusOr<std::string> Tvd(WireReader& r) {
  return NameField(r, "tvd", ValidTvd, "a valid TVD name");
}
StatusOr<std::string> Host(WireReader& r) {
  return NameField(r, "host", ValidHost, "a valid host name");
}
StatusOr<std::string> Vm(WireReader& r) {
  return NameField(r, "vm", ValidVm, "a valid VM name");
}

StatusOr<std::string_view> UnderlayView(WireReader& r, std::string_view field) {
  TVD_ASSIGN_OR_RETURN(std::string_view s, r.StringView(field, kMaxAddress));
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F') || c == '.' || c == ':';
      })) {
    return ProtocolError("field '" + std::string(field) +
                         "' is not an IP address literal");
  }
  return s;
}

StatusOr<std::string> Underlay(WireReader& r, std::string_view field) {
  TVD_ASSIGN_OR_RETURN(std::string_view s, UnderlayView(r, field));
  return std::string(s);
}

void PutDigest(WireWriter& w, const Sha256Digest& d) { w.Bytes(d); }
StatusOr<Sha256Digest> GetDigest(WireReader& r, std::string_view field) {
  TVD_ASSIGN_OR_RETURN(auto v, r.BytesView(field, 64));
  if (v.size() != 32) {
    return ProtocolError("field '" + std::string(field) +
                         "' must be 32 bytes, got " + std::to_string(v.size()));
  }
  Sha256Digest d{};
  std::copy(v.begin(), v.end(), d.begin());
  return d;
}

StatusOr<SecureBytes> GetKey(WireReader& r, std::string_view field,
                             std::size_t size, bool allow_empty) {
  TVD_ASSIGN_OR_RETURN(auto v, r.BytesView(field, 64));
  if (v.size() != size && !(allow_empty && v.empty())) {
    return ProtocolError("field '" + std::string(field) + "' must be " +
                         std::to_string(size) + " bytes" +
                         (allow_empty ? " or empty" : "") + ", got " +
                         std::to_string(v.size()));
  }
  return SecureBytes(v);
}

StatusOr<std::string> PolicyXml(WireReader& r) {
  TVD_ASSIGN_OR_RETURN(std::string s, r.String("policy_xml", kMaxPolicyXml));
  if (s.empty()) return ProtocolError("field 'policy_xml' is empty");
  return s;
}

void PutMembers(WireWriter& w, std::span<const Member> members) {
  w.U32(static_cast<std::uint32_t>(members.size()));
  for (const Member& m : members) {
    w.String(m.host);
    w.String(m.underlay);
  }
}

// The fewest bytes a member or a change takes on the wire: two length
// prefixes. Bounds what a count may reserve before the entries are read.
constexpr std::size_t kMinMemberBytes = 8;

// A member host list, or a MembershipUpdate's changes: up to 10^4 entries
// per message and N(N-1)/2 per member across a join storm, so the entries
// are checked as views into the payload and built in place, each string
// copied once.
StatusOr<std::vector<Member>> GetMembers(WireReader& r) {
  TVD_ASSIGN_OR_RETURN(std::uint32_t n, r.U32("member count"));
  if (n > kMaxMembers) {
    return ProtocolError("member count " + std::to_string(n) +
                         " is above the limit " + std::to_string(kMaxMembers));
  }
  std::vector<Member> out;
  out.reserve(std::min<std::size_t>(n, r.remaining() / kMinMemberBytes));
  std::string_view previous;
  for (std::uint32_t i = 0; i < n; ++i) {
    TVD_ASSIGN_OR_RETURN(
        std::string_view host,
        NameView(r, "member host", ValidHost, "a valid host name"));
    TVD_ASSIGN_OR_RETURN(std::string_view underlay,
                         UnderlayView(r, "member underlay"));
    if (i > 0 && !(previous < host)) {
      return ProtocolError(
          "members are not sorted by host without duplicates"
          " (at '" +
          std::string(host) + "')");
    }
    out.push_back({std::string(host), std::string(underlay)});
    previous = host;
  }
  return out;
}

StatusOr<std::string> Reason(WireReader& r) {
  return r.String("reason", kMaxReason);
}

void PutPcrs(WireWriter& w, const std::vector<std::uint32_t>& pcrs) {
  w.U32(static_cast<std::uint32_t>(pcrs.size()));
  for (std::uint32_t p : pcrs) w.U32(p);
}

// A quote's PCR selection: 1 to 24 indices 0-23, ascending, each once.
StatusOr<std::vector<std::uint32_t>> GetPcrs(WireReader& r) {
  TVD_ASSIGN_OR_RETURN(std::uint32_t n, r.U32("pcrs"));
  if (n == 0 || n > 24) {
    return ProtocolError("field 'pcrs' lists " + std::to_string(n) +
                         " PCRs; 1 to 24 are allowed");
  }
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < n; ++i) {
    TVD_ASSIGN_OR_RETURN(std::uint32_t p, r.U32("pcrs"));
    if (p > 23) {
      return ProtocolError("field 'pcrs': PCR " + std::to_string(p) +
                           " is not 0-23");
    }
    if (!out.empty() && p <= out.back()) {
      return ProtocolError("field 'pcrs' is not ascending without repeats");
    }
    out.push_back(p);
  }
  return out;
}

StatusOr<std::vector<std::uint8_t>> GetNonce(WireReader& r) {
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> n,
                       r.Bytes("nonce", attest::kMaxGuestNonce));
  if (n.size() < attest::kMinGuestNonce) {
    return ProtocolError("field 'nonce' has " + std::to_string(n.size()) +
                         " bytes; 16 to 64 are allowed");
  }
  return n;
}

template <typename T, typename F>
StatusOr<T> Decode(std::string_view name, std::span<const std::uint8_t> in,
                   F body) {
  WireReader r(in);
  T m;
  Status s = body(r, m);
  if (s.ok()) s = r.ExpectEnd("payload");
  if (!s.ok()) return In(name, s);
  return m;
}

}  // namespace

std::string_view MembershipChangeName(MembershipChange change) {
  switch (change) {
    case MembershipChange::kJoined:
      return "joined";
    case MembershipChange::kLeft:
      return "left";
    case MembershipChange::kEvicted:
      return "evicted";
    case MembershipChange::kRekeyed:
      return "rekeyed";
  }
  return "unknown";
}

// ---- encoders ----

std::vector<std::uint8_t> Encode(const JoinRequest& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.underlay);
  w.U8(m.known_policy_digest ? 1 : 0);
  if (m.known_policy_digest) PutDigest(w, *m.known_policy_digest);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const JoinGrant& m) {
  return Encode(m, m.members);
}

std::vector<std::uint8_t> Encode(const JoinGrant& m,
                                 std::span<const Member> members) {
  // Each length-prefixed field is 4 bytes plus its contents.
  std::size_t size = 4 + m.tvd.size() + 4 + m.policy_xml.size() + 4 +
                     m.policy_digest.size() + 8 + 4 + m.key.size() + 4 + 4;
  for (const Member& member : members) {
    size += 4 + member.host.size() + 4 + member.underlay.size();
  }
  WireWriter w;
  w.Reserve(size);
  w.String(m.tvd);
  w.String(m.policy_xml);
  PutDigest(w, m.policy_digest);
  w.U64(m.epoch);
  w.Bytes(m.key.view());
  PutMembers(w, members);
  w.U32(m.attestation_interval_seconds);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const MembershipUpdate& m) {
  WireWriter w;
  w.String(m.tvd);
  w.U64(m.epoch);
  w.U32(static_cast<std::uint32_t>(m.changes.size()));
  for (const MemberChange& c : m.changes) {
    w.U8(static_cast<std::uint8_t>(c.change));
    w.String(c.member.host);
    w.String(c.member.underlay);
  }
  w.U32(m.member_count);
  w.Bytes(m.key.view());
  return w.Take();
}

std::vector<std::uint8_t> Encode(const LeaveNotice& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.host);
  w.String(m.reason);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const PolicyUpdate& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.policy_xml);
  PutDigest(w, m.policy_digest);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const DiskKeyRequest& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.vm);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const DiskKeyGrant& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.vm);
  w.Bytes(m.key.view());
  return w.Take();
}

std::vector<std::uint8_t> Encode(const VtpmKeyRequest& m) {
  return Encode(DiskKeyRequest{m.tvd, m.vm});
}

std::vector<std::uint8_t> Encode(const VtpmKeyGrant& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.vm);
  w.Bytes(m.key.view());
  return w.Take();
}

std::vector<std::uint8_t> Encode(const VtpmRecord& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.vm);
  w.Bytes(m.ek_public);
  w.Bytes(m.ak_public);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const VmReport& m) {
  WireWriter w;
  w.String(m.tvd);
  w.String(m.vm);
  w.U8(m.attached ? 1 : 0);
  w.String(m.uuid);
  return w.Take();
}

namespace {
void PutAmounts(WireWriter& w, const policy::QuotaAmounts& a) {
  w.U64(a.domains);
  w.U64(a.vcpus);
  w.U64(a.memory_kib);
  w.U64(a.disk_bytes);
}
StatusOr<policy::QuotaAmounts> GetAmounts(WireReader& r,
                                          std::string_view field) {
  const std::string f(field);
  policy::QuotaAmounts a;
  TVD_ASSIGN_OR_RETURN(a.domains, r.U64(f + ".domains"));
  TVD_ASSIGN_OR_RETURN(a.vcpus, r.U64(f + ".vcpus"));
  TVD_ASSIGN_OR_RETURN(a.memory_kib, r.U64(f + ".memory_kib"));
  TVD_ASSIGN_OR_RETURN(a.disk_bytes, r.U64(f + ".disk_bytes"));
  return a;
}
}  // namespace

std::vector<std::uint8_t> Encode(const UsageClaim& m) {
  WireWriter w;
  w.String(m.tvd);
  PutAmounts(w, m.held);
  PutAmounts(w, m.adds);
  return w.Take();
}

namespace {
// What a guest quote order carries of the tenant's request, in its order.
void PutQuoteAsk(WireWriter& w, const std::string& tvd, const std::string& vm,
                 const std::vector<std::uint8_t>& nonce,
                 const std::vector<std::uint32_t>& pcrs) {
  w.String(tvd);
  w.String(vm);
  w.Bytes(nonce);
  PutPcrs(w, pcrs);
}
Status GetQuoteAsk(WireReader& r, std::string& tvd, std::string& vm,
                   std::vector<std::uint8_t>& nonce,
                   std::vector<std::uint32_t>& pcrs) {
  TVD_ASSIGN_OR_RETURN(tvd, Tvd(r));
  TVD_ASSIGN_OR_RETURN(vm, Vm(r));
  TVD_ASSIGN_OR_RETURN(nonce, GetNonce(r));
  TVD_ASSIGN_OR_RETURN(pcrs, GetPcrs(r));
  return Status::Ok();
}
}  // namespace

std::vector<std::uint8_t> Encode(const VmAttestRequest& m) {
  WireWriter w;
  PutQuoteAsk(w, m.tvd, m.vm, m.nonce, m.pcrs);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const VmAttestEvidence& m) {
  WireWriter w;
  w.String(m.json);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const GuestQuoteOrder& m) {
  WireWriter w;
  w.U64(m.id);
  PutQuoteAsk(w, m.tvd, m.vm, m.nonce, m.pcrs);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const GuestQuoteReport& m) {
  WireWriter w;
  w.U64(m.id);
  w.String(m.tvd);
  w.String(m.vm);
  w.String(m.answer);
  w.String(m.error);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const TvdAdd& m) {
  WireWriter w;
  w.String(m.policy_xml);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const TvdUpdate& m) {
  WireWriter w;
  w.String(m.policy_xml);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const TvdRemove& m) {
  WireWriter w;
  w.String(m.tvd);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const AdminQuery& m) {
  WireWriter w;
  w.U8(static_cast<std::uint8_t>(m.kind));
  w.String(m.name);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const AdminReply& m) {
  WireWriter w;
  w.String(m.json);
  return w.Take();
}

// ---- decoders ----

StatusOr<JoinRequest> DecodeJoinRequest(std::span<const std::uint8_t> in) {
  return Decode<JoinRequest>(
      "JoinRequest", in, [](WireReader& r, JoinRequest& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.underlay, Underlay(r, "underlay"));
        TVD_ASSIGN_OR_RETURN(std::uint8_t has, r.U8("has_digest"));
        if (has > 1) return ProtocolError("field 'has_digest' is not 0 or 1");
        if (has == 1) {
          TVD_ASSIGN_OR_RETURN(Sha256Digest d,
                               GetDigest(r, "known_policy_digest"));
          m.known_policy_digest = d;
        }
        return Status::Ok();
      });
}

StatusOr<JoinGrant> DecodeJoinGrant(std::span<const std::uint8_t> in) {
  return Decode<JoinGrant>(
      "JoinGrant", in, [](WireReader& r, JoinGrant& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.policy_xml, PolicyXml(r));
        TVD_ASSIGN_OR_RETURN(m.policy_digest, GetDigest(r, "policy_digest"));
        TVD_ASSIGN_OR_RETURN(m.epoch, r.U64("epoch"));
        if (m.epoch == 0) return ProtocolError("field 'epoch' is 0");
        TVD_ASSIGN_OR_RETURN(m.key, GetKey(r, "key", kTvdKeySize, false));
        TVD_ASSIGN_OR_RETURN(m.members, GetMembers(r));
        TVD_ASSIGN_OR_RETURN(m.attestation_interval_seconds,
                             r.U32("attestation_interval_seconds"));
        return Status::Ok();
      });
}

StatusOr<MembershipUpdate> DecodeMembershipUpdate(
    std::span<const std::uint8_t> in) {
  return Decode<MembershipUpdate>(
      "MembershipUpdate", in, [](WireReader& r, MembershipUpdate& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.epoch, r.U64("epoch"));
        if (m.epoch == 0) return ProtocolError("field 'epoch' is 0");
        TVD_ASSIGN_OR_RETURN(std::uint32_t n, r.U32("change count"));
        if (n > kMaxMemberChanges) {
          return ProtocolError("change count " + std::to_string(n) +
                               " is above the limit " +
                               std::to_string(kMaxMemberChanges));
        }
        m.changes.reserve(
            std::min<std::size_t>(n, r.remaining() / kMinMemberBytes));
        for (std::uint32_t i = 0; i < n; ++i) {
          TVD_ASSIGN_OR_RETURN(std::uint8_t change, r.U8("change"));
          if (change < 1 || change > 3) {
            return ProtocolError("field 'change' has unknown value " +
                                 std::to_string(change));
          }
          const auto kind = static_cast<MembershipChange>(change);
          TVD_ASSIGN_OR_RETURN(
              std::string_view host,
              NameView(r, "member host", ValidHost, "a valid host name"));
          std::string_view underlay;
          if (kind == MembershipChange::kJoined) {
            TVD_ASSIGN_OR_RETURN(underlay, UnderlayView(r, "member underlay"));
          } else {
            TVD_ASSIGN_OR_RETURN(underlay, r.StringView("member underlay", 0));
          }
          m.changes.push_back(
              {kind, {std::string(host), std::string(underlay)}});
        }
        TVD_ASSIGN_OR_RETURN(m.member_count, r.U32("member_count"));
        if (m.member_count > kMaxMembers) {
          return ProtocolError(
              "field 'member_count' " + std::to_string(m.member_count) +
              " is above the limit " + std::to_string(kMaxMembers));
        }
        TVD_ASSIGN_OR_RETURN(m.key, GetKey(r, "key", kTvdKeySize, true));
        return Status::Ok();
      });
}

StatusOr<LeaveNotice> DecodeLeaveNotice(std::span<const std::uint8_t> in) {
  return Decode<LeaveNotice>("LeaveNotice", in,
                             [](WireReader& r, LeaveNotice& m) -> Status {
                               TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
                               TVD_ASSIGN_OR_RETURN(m.host, Host(r));
                               TVD_ASSIGN_OR_RETURN(m.reason, Reason(r));
                               return Status::Ok();
                             });
}

StatusOr<PolicyUpdate> DecodePolicyUpdate(std::span<const std::uint8_t> in) {
  return Decode<PolicyUpdate>(
      "PolicyUpdate", in, [](WireReader& r, PolicyUpdate& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.policy_xml, PolicyXml(r));
        TVD_ASSIGN_OR_RETURN(m.policy_digest, GetDigest(r, "policy_digest"));
        return Status::Ok();
      });
}

StatusOr<DiskKeyRequest> DecodeDiskKeyRequest(
    std::span<const std::uint8_t> in) {
  return Decode<DiskKeyRequest>("DiskKeyRequest", in,
                                [](WireReader& r, DiskKeyRequest& m) -> Status {
                                  TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
                                  TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
                                  return Status::Ok();
                                });
}

StatusOr<DiskKeyGrant> DecodeDiskKeyGrant(std::span<const std::uint8_t> in) {
  return Decode<DiskKeyGrant>(
      "DiskKeyGrant", in, [](WireReader& r, DiskKeyGrant& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
        TVD_ASSIGN_OR_RETURN(m.key, GetKey(r, "key", kDiskKeySize, false));
        return Status::Ok();
      });
}

StatusOr<VtpmKeyRequest> DecodeVtpmKeyRequest(
    std::span<const std::uint8_t> in) {
  return Decode<VtpmKeyRequest>("VtpmKeyRequest", in,
                                [](WireReader& r, VtpmKeyRequest& m) -> Status {
                                  TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
                                  TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
                                  return Status::Ok();
                                });
}

StatusOr<VtpmKeyGrant> DecodeVtpmKeyGrant(std::span<const std::uint8_t> in) {
  return Decode<VtpmKeyGrant>(
      "VtpmKeyGrant", in, [](WireReader& r, VtpmKeyGrant& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
        TVD_ASSIGN_OR_RETURN(m.key, GetKey(r, "key", kVtpmKeySize, false));
        return Status::Ok();
      });
}

StatusOr<VtpmRecord> DecodeVtpmRecord(std::span<const std::uint8_t> in) {
  return Decode<VtpmRecord>(
      "VtpmRecord", in, [](WireReader& r, VtpmRecord& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
        for (auto [field, out] : {std::pair{"ek_public", &m.ek_public},
                                  std::pair{"ak_public", &m.ak_public}}) {
          TVD_ASSIGN_OR_RETURN(*out, r.Bytes(field, kMaxTpmPublic));
          if (out->empty()) {
            return ProtocolError("field '" + std::string(field) + "' is empty");
          }
        }
        return Status::Ok();
      });
}

StatusOr<VmReport> DecodeVmReport(std::span<const std::uint8_t> in) {
  return Decode<VmReport>(
      "VmReport", in, [](WireReader& r, VmReport& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
        TVD_ASSIGN_OR_RETURN(std::uint8_t a, r.U8("attached"));
        if (a > 1) return ProtocolError("field 'attached' is not 0 or 1");
        m.attached = a == 1;
        TVD_ASSIGN_OR_RETURN(m.uuid, r.String("uuid", kMaxUuid));
        if (!m.uuid.empty() && !policy::IsUuid(m.uuid)) {
          return ProtocolError("field 'uuid' is not a UUID");
        }
        return Status::Ok();
      });
}

StatusOr<UsageClaim> DecodeUsageClaim(std::span<const std::uint8_t> in) {
  return Decode<UsageClaim>(
      "UsageClaim", in, [](WireReader& r, UsageClaim& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.held, GetAmounts(r, "held"));
        TVD_ASSIGN_OR_RETURN(m.adds, GetAmounts(r, "adds"));
        return Status::Ok();
      });
}

StatusOr<VmAttestRequest> DecodeVmAttestRequest(
    std::span<const std::uint8_t> in) {
  return Decode<VmAttestRequest>(
      "VmAttestRequest", in, [](WireReader& r, VmAttestRequest& m) {
        return GetQuoteAsk(r, m.tvd, m.vm, m.nonce, m.pcrs);
      });
}

StatusOr<VmAttestEvidence> DecodeVmAttestEvidence(
    std::span<const std::uint8_t> in) {
  return Decode<VmAttestEvidence>(
      "VmAttestEvidence", in,
      [](WireReader& r, VmAttestEvidence& m) -> Status {
        TVD_ASSIGN_OR_RETURN(
            m.json, r.String("json", attest::kMaxDeepQuoteEvidence));
        return Status::Ok();
      });
}

StatusOr<GuestQuoteOrder> DecodeGuestQuoteOrder(
    std::span<const std::uint8_t> in) {
  return Decode<GuestQuoteOrder>(
      "GuestQuoteOrder", in, [](WireReader& r, GuestQuoteOrder& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.id, r.U64("id"));
        return GetQuoteAsk(r, m.tvd, m.vm, m.nonce, m.pcrs);
      });
}

StatusOr<GuestQuoteReport> DecodeGuestQuoteReport(
    std::span<const std::uint8_t> in) {
  return Decode<GuestQuoteReport>(
      "GuestQuoteReport", in,
      [](WireReader& r, GuestQuoteReport& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.id, r.U64("id"));
        TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
        TVD_ASSIGN_OR_RETURN(m.vm, Vm(r));
        TVD_ASSIGN_OR_RETURN(m.answer,
                             r.String("answer", attest::kMaxGuestLine));
        TVD_ASSIGN_OR_RETURN(m.error, r.String("error", kMaxReason));
        if (m.answer.empty() == m.error.empty()) {
          return ProtocolError(
              "exactly one of the fields 'answer' and 'error' must be set");
        }
        return Status::Ok();
      });
}

StatusOr<TvdAdd> DecodeTvdAdd(std::span<const std::uint8_t> in) {
  return Decode<TvdAdd>("TvdAdd", in, [](WireReader& r, TvdAdd& m) -> Status {
    TVD_ASSIGN_OR_RETURN(m.policy_xml, PolicyXml(r));
    return Status::Ok();
  });
}

StatusOr<TvdUpdate> DecodeTvdUpdate(std::span<const std::uint8_t> in) {
  return Decode<TvdUpdate>("TvdUpdate", in,
                           [](WireReader& r, TvdUpdate& m) -> Status {
                             TVD_ASSIGN_OR_RETURN(m.policy_xml, PolicyXml(r));
                             return Status::Ok();
                           });
}

StatusOr<TvdRemove> DecodeTvdRemove(std::span<const std::uint8_t> in) {
  return Decode<TvdRemove>("TvdRemove", in,
                           [](WireReader& r, TvdRemove& m) -> Status {
                             TVD_ASSIGN_OR_RETURN(m.tvd, Tvd(r));
                             return Status::Ok();
                           });
}

StatusOr<AdminQuery> DecodeAdminQuery(std::span<const std::uint8_t> in) {
  return Decode<AdminQuery>(
      "AdminQuery", in, [](WireReader& r, AdminQuery& m) -> Status {
        TVD_ASSIGN_OR_RETURN(std::uint8_t kind, r.U8("kind"));
        if (kind < 1 || kind > 5) {
          return ProtocolError("field 'kind' has unknown value " +
                               std::to_string(kind));
        }
        m.kind = static_cast<AdminQueryKind>(kind);
        TVD_ASSIGN_OR_RETURN(m.name, r.String("name", kMaxName));
        if (m.kind == AdminQueryKind::kTvd && !policy::IsTvdName(m.name)) {
          return ProtocolError("field 'name' is not a valid TVD name");
        }
        if (m.kind != AdminQueryKind::kTvd && !m.name.empty()) {
          return ProtocolError("field 'name' must be empty for this kind");
        }
        return Status::Ok();
      });
}

StatusOr<AdminReply> DecodeAdminReply(std::span<const std::uint8_t> in) {
  return Decode<AdminReply>(
      "AdminReply", in, [](WireReader& r, AdminReply& m) -> Status {
        TVD_ASSIGN_OR_RETURN(m.json, r.String("json", kMaxReplyText));
        return Status::Ok();
      });
}

}  // namespace tvd::protocol
