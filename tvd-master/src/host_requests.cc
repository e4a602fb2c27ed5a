#include "host_requests.h"

#include <openssl/crypto.h>

#include <ctime>
#include <optional>

#include "tvd/attest/attestation_session.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/master/key_wrap.h"
#include "tvd/mutex.h"
#include "tvd/sha256.h"

namespace tvd::master {
namespace {

using channel::Connection;
using channel::Frame;
using channel::MessageType;

}  // namespace

Status HostRequests::Handle(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  if (peer.role != pki::Role::kHost) {
    Status s = PermissionDenied(
        "host requests need a host certificate; peer is " + peer.ToString());
    core_.Audit(peer.ToString(), "host-request", "", false, s.message());
    return s;
  }
  switch (frame.type) {
    case MessageType::kLeaveNotice:
      return Leave(conn, frame);
    case MessageType::kVmReport:
      return VmReport(conn, frame);
    case MessageType::kDiskKeyRequest:
      return DiskKey(conn, frame);
    case MessageType::kVtpmKeyRequest:
      return VtpmKey(conn, frame);
    case MessageType::kVtpmRecord:
      return RecordVtpm(conn, frame);
    case MessageType::kGuestQuoteReport:
      return GuestQuote(conn, frame);
    default:
      return ProtocolError("not a host request: message type " +
                           std::to_string(static_cast<int>(frame.type)));
  }
}

Status HostRequests::GuestQuote(Connection& conn, const Frame& frame) {
  TVD_ASSIGN_OR_RETURN(protocol::GuestQuoteReport report,
                       protocol::DecodeGuestQuoteReport(frame.payload));
  // No audit row: the tenant request it answers writes one.
  TVD_RETURN_IF_ERROR(core_.guest_quotes.Fulfil(conn.peer().name, report));
  return conn.WriteFrame(MessageType::kAck, {}, core_.options.timeouts.write);
}

Status HostRequests::UsageClaim(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  if (peer.role != pki::Role::kHost) {
    Status s = PermissionDenied(
        "usage claims need a host certificate; peer is " + actor);
    core_.Audit(actor, "quota-claim", "", false, s.message());
    return s;
  }
  TVD_ASSIGN_OR_RETURN(protocol::UsageClaim claim,
                       protocol::DecodeUsageClaim(frame.payload));
  const std::string subject = Subject(claim.tvd, peer.name);
  WriteJournal::Ticket ticket;
  Status refused;
  {
    MutexLock lock(core_.mutex);
    auto decision =
        core_.registry.ClaimUsage(claim.tvd, peer.name, claim.held, claim.adds,
                                  core_.hub.Attested(claim.tvd, peer.name));
    if (decision.ok()) {
      ticket = core_.SubmitLocked(std::move(decision).value());
    } else {
      refused = decision.status();
    }
  }
  if (refused.ok()) refused = core_.journal.Wait(ticket);
  if (!refused.ok()) {
    core_.Audit(actor, "quota-claim", subject, false, refused.message());
    return refused;
  }
  return conn.WriteFrame(MessageType::kAck, {}, core_.options.timeouts.write);
}

Status HostRequests::Leave(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  TVD_ASSIGN_OR_RETURN(protocol::LeaveNotice notice,
                       protocol::DecodeLeaveNotice(frame.payload));
  WriteJournal::Ticket ticket;
  Status refused;
  {
    MutexLock lock(core_.mutex);
    auto decision =
        core_.registry.Leave(notice.tvd, peer, notice.host, notice.reason);
    if (decision.ok()) {
      ticket = core_.SubmitLocked(std::move(decision).value());
    } else {
      refused = decision.status();
    }
  }
  if (!refused.ok()) {
    core_.Audit(peer.ToString(), "leave", Subject(notice.tvd, peer.name), false,
                refused.message());
    return refused;
  }
  TVD_RETURN_IF_ERROR(core_.journal.Wait(ticket));
  return conn.WriteFrame(MessageType::kAck, {}, core_.options.timeouts.write);
}

Status HostRequests::VmReport(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  TVD_ASSIGN_OR_RETURN(protocol::VmReport report,
                       protocol::DecodeVmReport(frame.payload));
  const std::string subject = Subject(report.tvd, report.vm);
  const std::string action = report.attached ? "vm-attach" : "vm-detach";
  WriteJournal::Ticket ticket;
  Status refused;
  {
    MutexLock lock(core_.mutex);
    refused = core_.registry.CheckMemberRequest(
        peer.name, report.tvd, report.vm, false,
        core_.hub.Attested(report.tvd, peer.name));
    if (refused.ok()) {
      Decision d;
      d.writes.push_back({[report, host = peer.name](Store& s) {
                            return s.SetVm(report.tvd, host, report.vm,
                                           report.attached, report.uuid);
                          },
                          true, "SetVm " + subject});
      d.writes.push_back(
          {[=](Store& s) { return s.Audit(actor, action, subject, true, ""); },
           true, "Audit " + action + " " + subject});
      ticket = core_.SubmitLocked(std::move(d));
    }
  }
  if (!refused.ok()) {
    core_.Audit(actor, action, subject, false, refused.message());
    return refused;
  }
  TVD_RETURN_IF_ERROR(core_.journal.Wait(ticket));
  return conn.WriteFrame(MessageType::kAck, {}, core_.options.timeouts.write);
}

// What differs between releasing a disk key and a vTPM state key.
struct KeyKind {
  const char* action;  // audit action, "disk-key"
  MessageType grant;
  // The row's wrapped key, nullopt when there is none; storing a new one.
  StatusOr<std::optional<std::vector<std::uint8_t>>> (Store::*read)(
      const std::string&, const std::string&);
  Status (Store::*put)(const std::string&, const std::string&,
                       const std::vector<std::uint8_t>&);
  std::vector<std::uint8_t> (*wrap)(const SecureBytes&, std::string_view,
                                    std::string_view, const SecureBytes&);
  StatusOr<SecureBytes> (*unwrap)(const SecureBytes&, std::string_view,
                                  std::string_view,
                                  std::span<const std::uint8_t>);
};

static_assert(protocol::kVtpmKeySize == protocol::kDiskKeySize);

namespace {

const KeyKind kDiskKey{"disk-key",
                       MessageType::kDiskKeyGrant,
                       &Store::WrappedDiskKey,
                       &Store::PutWrappedDiskKey,
                       &WrapDiskKey,
                       &UnwrapDiskKey};
const KeyKind kVtpmKey{"vtpm-key",
                       MessageType::kVtpmKeyGrant,
                       &Store::WrappedVtpmKey,
                       &Store::PutWrappedVtpmKey,
                       &WrapVtpmKey,
                       &UnwrapVtpmKey};

// PermissionDenied when the store has `vm` of `tvd` attached on a host
// other than `host`: a vTPM belongs to where its VM runs.
Status CheckVmHost(Store& s, const std::string& tvd, const std::string& vm,
                   const std::string& host) {
  TVD_ASSIGN_OR_RETURN(std::vector<VmRow> vms, s.Vms(tvd));
  for (const VmRow& row : vms) {
    if (row.vm == vm && row.host != host) {
      return PermissionDenied("VM " + vm + " of TVD " + tvd + " runs on host " +
                              row.host + ", not on " + host);
    }
  }
  return Status::Ok();
}

}  // namespace

Status HostRequests::DiskKey(Connection& conn, const Frame& frame) {
  TVD_ASSIGN_OR_RETURN(auto request,
                       protocol::DecodeDiskKeyRequest(frame.payload));
  return ReleaseKey(conn, kDiskKey, request.tvd, request.vm);
}

Status HostRequests::VtpmKey(Connection& conn, const Frame& frame) {
  TVD_ASSIGN_OR_RETURN(auto request,
                       protocol::DecodeVtpmKeyRequest(frame.payload));
  return ReleaseKey(conn, kVtpmKey, request.tvd, request.vm);
}

Status HostRequests::ReleaseKey(Connection& conn, const KeyKind& kind,
                                const std::string& tvd, const std::string& vm) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  const std::string subject = Subject(tvd, vm);
  const std::string action = kind.action;
  const bool vtpm = &kind == &kVtpmKey;
  // Called with core_.mutex held (the analysis cannot follow a lambda).
  auto check = [&]() TVD_NO_THREAD_SAFETY_ANALYSIS -> Status {
    const bool attested = core_.hub.Attested(tvd, peer.name);
    return vtpm ? core_.registry.CheckVtpmRequest(peer.name, tvd, vm, attested)
                : core_.registry.CheckMemberRequest(peer.name, tvd, vm, true,
                                                    attested);
  };
  // A key leaves only on a channel that proved itself: this
  // connection runs its own attestation, the quote bound to its own TLS
  // exporter, against the TVD's current requirements. A stolen host
  // certificate without the host's TPM, or a quote relayed from another
  // session, gets nothing (docs/master.md section 5).
  attest::TcbRequirements req;
  Status refused;
  {
    MutexLock lock(core_.mutex);
    refused = check();
    if (refused.ok()) req = core_.registry.Find(tvd)->requirements;
  }
  if (!refused.ok()) {
    core_.Audit(actor, action, subject, false, refused.message());
    return refused;
  }
  attest::MasterAttestation attestation(core_.enroller, core_.verifier,
                                        core_.nonces, core_.options.timeouts);
  Status attested = attestation.AttestOnce(conn, req);
  if (!attested.ok()) {
    core_.Audit(actor, action, subject, false,
                "attestation: " + attested.message());
    return attested;
  }
  // The key is read or created on the journal's thread, in order with the
  // other decisions: two requests for one VM get the same key, and a key
  // is never created after its TVD was removed.
  auto key = std::make_shared<std::optional<SecureBytes>>();
  const SecureBytes& kek = core_.options.kek;
  const std::string host = peer.name;
  WriteJournal::Ticket ticket;
  {
    MutexLock lock(core_.mutex);
    // (Again: the membership may have ended during the quote.)
    refused = check();
    if (refused.ok()) {
      Decision d;
      StoreWrite w{
          [=, &kek, &kind](Store& s) -> Status {
            // A vTPM's state lives where its VM runs: its key is not for
            // another host.
            if (vtpm) TVD_RETURN_IF_ERROR(CheckVmHost(s, tvd, vm, host));
            TVD_ASSIGN_OR_RETURN(auto wrapped, (s.*kind.read)(tvd, vm));
            SecureBytes k;
            if (wrapped) {
              TVD_ASSIGN_OR_RETURN(k, kind.unwrap(kek, tvd, vm, *wrapped));
            } else {
              k = SecureBytes::Random(protocol::kDiskKeySize);
              TVD_RETURN_IF_ERROR(
                  (s.*kind.put)(tvd, vm, kind.wrap(kek, tvd, vm, k)));
            }
            TVD_RETURN_IF_ERROR(s.Audit(actor, action, subject, true,
                                        wrapped ? "released" : "created"));
            *key = std::move(k);
            return Status::Ok();
          },
          true, action + " " + subject};
      w.isolated = true;
      d.writes.push_back(std::move(w));
      ticket = core_.SubmitLocked(std::move(d));
    }
  }
  if (!refused.ok()) {
    core_.Audit(actor, action, subject, false, refused.message());
    return refused;
  }
  refused = core_.journal.Wait(ticket);
  if (!refused.ok()) {
    if (refused.code() == ErrorCode::kPermissionDenied) {
      core_.Audit(actor, action, subject, false, refused.message());
    }
    return refused;
  }
  std::vector<std::uint8_t> encoded =
      vtpm
          ? protocol::Encode(protocol::VtpmKeyGrant{tvd, vm, std::move(**key)})
          : protocol::Encode(protocol::DiskKeyGrant{tvd, vm, std::move(**key)});
  key->reset();
  SecureBytes payload{std::span<const std::uint8_t>(encoded)};
  OPENSSL_cleanse(encoded.data(), encoded.size());
  return conn.WriteFrame(kind.grant, payload.view(),
                         core_.options.timeouts.write);
}

Status HostRequests::RecordVtpm(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  TVD_ASSIGN_OR_RETURN(protocol::VtpmRecord record,
                       protocol::DecodeVtpmRecord(frame.payload));
  const std::string subject = Subject(record.tvd, record.vm);
  const std::string action = "vtpm-record";
  auto refuse = [&](Status s) {
    core_.Audit(actor, action, subject, false, s.message());
    return s;
  };
  // The evidence must be what the proxy says it is: the TCG default EK (a
  // restricted decryption key) and a restricted signing key; the one
  // cannot pass for the other.
  if (Status ek = attest::CheckEndorsementKey(record.ek_public); !ek.ok()) {
    return refuse(
        InvalidArgument("vTPM of " + subject + ": ek_public: " + ek.message()));
  }
  if (Status ak = attest::CheckAttestationKey(record.ak_public); !ak.ok()) {
    return refuse(
        InvalidArgument("vTPM of " + subject + ": ak_public: " + ak.message()));
  }
  VtpmBindingRow row{record.tvd,
                     record.vm,
                     peer.name,
                     std::move(record.ek_public),
                     std::move(record.ak_public),
                     static_cast<std::int64_t>(std::time(nullptr))};
  WriteJournal::Ticket ticket;
  Status refused;
  {
    MutexLock lock(core_.mutex);
    refused = core_.registry.CheckVtpmRequest(
        peer.name, row.tvd, row.vm, core_.hub.Attested(row.tvd, peer.name));
    if (refused.ok()) {
      Decision d;
      StoreWrite w{
          [row, actor, action, subject](Store& s) -> Status {
            TVD_RETURN_IF_ERROR(CheckVmHost(s, row.tvd, row.vm, row.host));
            Status recorded = s.RecordVtpmBinding(row);
            if (recorded.code() == ErrorCode::kNotFound) {
              return FailedPrecondition(
                  "the master released no vTPM key for VM " + row.vm +
                  " of TVD " + row.tvd + " (ask for it first)");
            }
            TVD_RETURN_IF_ERROR(recorded);
            return s.Audit(actor, action, subject, true,
                           "ek sha256 " + ToHex(Sha256(row.ek_public)));
          },
          true, "RecordVtpm " + subject};
      w.isolated = true;
      d.writes.push_back(std::move(w));
      ticket = core_.SubmitLocked(std::move(d));
    }
  }
  if (!refused.ok()) return refuse(refused);
  refused = core_.journal.Wait(ticket);
  if (!refused.ok()) {
    if (refused.code() == ErrorCode::kPermissionDenied ||
        refused.code() == ErrorCode::kFailedPrecondition) {
      return refuse(refused);
    }
    return refused;
  }
  return conn.WriteFrame(MessageType::kAck, {}, core_.options.timeouts.write);
}

}  // namespace tvd::master
