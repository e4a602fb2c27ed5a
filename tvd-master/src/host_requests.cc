#include "host_requests.h"

#include <openssl/crypto.h>

#include <optional>

#include "tvd/attest/attestation_session.h"
#include "tvd/master/key_wrap.h"

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
    default:
      return ProtocolError("not a host request: message type " +
                           std::to_string(static_cast<int>(frame.type)));
  }
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
    std::lock_guard lock(core_.mutex);
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
    std::lock_guard lock(core_.mutex);
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
    std::lock_guard lock(core_.mutex);
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

Status HostRequests::DiskKey(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  TVD_ASSIGN_OR_RETURN(auto request,
                       protocol::DecodeDiskKeyRequest(frame.payload));
  const std::string tvd = request.tvd, vm = request.vm;
  const std::string subject = Subject(tvd, vm);
  const std::string action = "disk-key";
  auto check = [&]() -> Status {
    return core_.registry.CheckMemberRequest(
        peer.name, tvd, vm, true, core_.hub.Attested(tvd, peer.name));
  };
  // A disk key leaves only on a channel that proved itself: this
  // connection runs its own attestation, the quote bound to its own TLS
  // exporter, against the TVD's current requirements. A stolen host
  // certificate without the host's TPM, or a quote relayed from another
  // session, gets nothing (docs/master.md section 5).
  attest::TcbRequirements req;
  Status refused;
  {
    std::lock_guard lock(core_.mutex);
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
  WriteJournal::Ticket ticket;
  {
    std::lock_guard lock(core_.mutex);
    // (Again: the membership may have ended during the quote.)
    refused = check();
    if (refused.ok()) {
      Decision d;
      StoreWrite w{
          [=, &kek](Store& s) -> Status {
            TVD_ASSIGN_OR_RETURN(auto wrapped, s.WrappedDiskKey(tvd, vm));
            SecureBytes k;
            if (wrapped) {
              TVD_ASSIGN_OR_RETURN(k, UnwrapDiskKey(kek, tvd, vm, *wrapped));
            } else {
              k = SecureBytes::Random(protocol::kDiskKeySize);
              TVD_RETURN_IF_ERROR(
                  s.PutWrappedDiskKey(tvd, vm, WrapDiskKey(kek, tvd, vm, k)));
            }
            TVD_RETURN_IF_ERROR(s.Audit(actor, action, subject, true,
                                        wrapped ? "released" : "created"));
            *key = std::move(k);
            return Status::Ok();
          },
          true, "DiskKey " + subject};
      w.isolated = true;
      d.writes.push_back(std::move(w));
      ticket = core_.SubmitLocked(std::move(d));
    }
  }
  if (!refused.ok()) {
    core_.Audit(actor, action, subject, false, refused.message());
    return refused;
  }
  TVD_RETURN_IF_ERROR(core_.journal.Wait(ticket));
  protocol::DiskKeyGrant grant{tvd, vm, std::move(**key)};
  key->reset();
  std::vector<std::uint8_t> encoded = protocol::Encode(grant);
  SecureBytes payload{std::span<const std::uint8_t>(encoded)};
  OPENSSL_cleanse(encoded.data(), encoded.size());
  return conn.WriteFrame(MessageType::kDiskKeyGrant, payload.view(),
                         core_.options.timeouts.write);
}

}  // namespace tvd::master
