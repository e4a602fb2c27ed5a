#include "tenant_requests.h"

#include <chrono>
#include <optional>

#include "tvd/attest/deep_quote.h"
#include "tvd/attest/guest_quote.h"
#include "tvd/channel/frame.h"
#include "tvd/master/authorization.h"
#include "tvd/mutex.h"

namespace tvd::master {
namespace {

using channel::Connection;
using channel::Frame;
using channel::MessageType;

}  // namespace

Status TenantRequests::Handle(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  if (peer.role != pki::Role::kTenant) {
    Status s = PermissionDenied(
        "tenant requests need a tenant certificate; peer is " +
        peer.ToString());
    core_.Audit(peer.ToString(), "vm-attest", "", false, s.message());
    return s;
  }
  TVD_ASSIGN_OR_RETURN(protocol::VmAttestRequest request,
                       protocol::DecodeVmAttestRequest(frame.payload));
  Status s = AttestVm(conn, request);
  core_.Audit(peer.ToString(), "vm-attest", request.tvd + "/" + request.vm,
              s.ok(), s.message());
  return s;
}

Status TenantRequests::AttestVm(Connection& conn,
                                const protocol::VmAttestRequest& request) {
  const pki::Identity peer = conn.peer();
  const std::string& tvd = request.tvd;
  const std::string& vm = request.vm;
  // Read before the decision lock (a store call); what it says is only
  // told once the TVD is known to be the tenant's.
  auto binding = core_.store->GetVtpmBinding(tvd, vm);
  Sha256Digest policy_digest{};
  bool member = false;
  {
    MutexLock lock(core_.mutex);
    const TvdState* t = core_.registry.Find(tvd);
    if (t == nullptr || !SubjectNamesTenant(t->policy.owner, peer)) {
      return PermissionDenied("TVD " + tvd + " is not " + peer.ToString() +
                              "'s");
    }
    policy_digest = t->digest;
    member = binding.ok() && binding->has_value() &&
             t->members.contains((*binding)->host);
  }
  TVD_RETURN_IF_ERROR(binding.status());
  if (!binding->has_value()) {
    return NotFound("VM " + vm + " of TVD " + tvd + " has no vTPM bound");
  }
  const std::string host = (*binding)->host;
  if (!member) {
    return FailedPrecondition("host " + host + " of VM " + vm +
                              " is no member of TVD " + tvd);
  }
  MemberSessionPtr session = core_.hub.Find(tvd, host);
  if (!session) {
    return Unavailable("host " + host + " of VM " + vm +
                       " is served by another master");
  }
  std::optional<GoodAttestations::Entry> good =
      core_.good_attestations.Get(host);
  if (!session->attested || !good) {
    return FailedPrecondition("host " + host +
                              " failed its latest attestation");
  }

  TVD_ASSIGN_OR_RETURN(std::uint64_t id,
                       core_.guest_quotes.Open(tvd, vm, host));
  protocol::GuestQuoteOrder order{id, tvd, vm, request.nonce, request.pcrs};
  std::vector<std::uint8_t> encoded =
      channel::EncodeFrame(MessageType::kGuestQuoteOrder,
                           protocol::Encode(order));
  session->Push(MessageType::kGuestQuoteOrder,
                std::make_shared<const SecureBytes>(
                    std::span<const std::uint8_t>(encoded)));
  const auto timeout = core_.options.guest_quote_timeout;
  TVD_ASSIGN_OR_RETURN(
      protocol::GuestQuoteReport report,
      core_.guest_quotes.Wait(id, std::chrono::steady_clock::now() + timeout,
                              timeout));
  if (!report.error.empty()) {
    return Unavailable("host " + host + ": " + report.error);
  }
  auto answer = attest::ParseGuestQuoteAnswer(report.answer);
  if (!answer.ok()) return answer.status().WithContext("guest of VM " + vm);

  attest::VtpmBinding bound{tvd,
                            vm,
                            host,
                            (*binding)->ek_public,
                            (*binding)->ak_public,
                            (*binding)->created_at};
  attest::HostAttestationSummary summary{host, attest::HostMembership::kMember,
                                         good->at, good->pcr_digest,
                                         policy_digest};
  if (core_.options.credentials.key_pem.empty()) {
    return FailedPrecondition(
        "this master has no certificate key to sign the statement with");
  }
  pki::KeyAndCertificate master_key{core_.options.credentials.key_pem.Clone(),
                                    core_.options.credentials.cert_pem};
  TVD_ASSIGN_OR_RETURN(
      attest::SignedVtpmStatement statement,
      attest::IssueVtpmStatement(bound, summary, request.nonce,
                                 std::chrono::system_clock::now(),
                                 master_key));
  attest::DeepQuoteEvidence evidence{std::move(statement),
                                     std::move(answer).value()};
  TVD_ASSIGN_OR_RETURN(std::string json,
                       attest::EncodeDeepQuoteEvidence(evidence));
  return conn.WriteFrame(MessageType::kVmAttestEvidence,
                         protocol::Encode(protocol::VmAttestEvidence{json}),
                         core_.options.timeouts.write);
}

}  // namespace tvd::master
