#include "tvd/attest/attestation_session.h"

#include <algorithm>

#include "tvd/log.h"

namespace tvd::attest {

using channel::Connection;
using channel::Frame;
using channel::MessageType;

namespace {
// Decode errors are the peer's fault: tell it, then close.
template <typename T>
StatusOr<T> DecodeOrRefuse(Connection& conn, StatusOr<T> decoded) {
  if (!decoded.ok()) conn.SendErrorAndClose(decoded.status());
  return decoded;
}
}  // namespace

// ---- master side ----

Status MasterAttestation::Enrol(Connection& conn, const Frame& request_frame) {
  TVD_ASSIGN_OR_RETURN(
      EnrolRequest request,
      DecodeOrRefuse(conn, DecodeEnrolRequest(request_frame.payload)));
  TVD_ASSIGN_OR_RETURN(auto begun, enroller_.Begin(conn.peer(), request));
  TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kEnrolChallenge,
                                      Encode(begun.first), timeouts_.write));
  TVD_ASSIGN_OR_RETURN(
      Frame proof_frame,
      conn.ReadExpected(MessageType::kEnrolProof, timeouts_.read));
  TVD_ASSIGN_OR_RETURN(
      EnrolProof proof,
      DecodeOrRefuse(conn, DecodeEnrolProof(proof_frame.payload)));
  TVD_RETURN_IF_ERROR(enroller_.Finish(std::move(begun.second), proof));
  log::Info("enrolled AK for ", conn.peer().ToString());
  return conn.WriteFrame(MessageType::kEnrolResult, {}, timeouts_.write);
}

Status MasterAttestation::Admit(Connection& conn, const TcbRequirements& req) {
  TVD_ASSIGN_OR_RETURN(Frame first, conn.ReadFrame(timeouts_.read));
  if (first.type == MessageType::kEnrolRequest) {
    TVD_RETURN_IF_ERROR(Enrol(conn, first));
    TVD_ASSIGN_OR_RETURN(first, conn.ReadFrame(timeouts_.read));
  }
  if (first.type == MessageType::kError) {
    return channel::DecodeErrorPayload(first.payload).WithContext("peer");
  }
  if (first.type != MessageType::kAttestHello) {
    return ProtocolError(
        "expected an enrolment request or attestation hello, "
        "got message type " +
        std::to_string(static_cast<int>(first.type)));
  }
  return AttestOnce(conn, req);
}

Status MasterAttestation::AttestOnce(Connection& conn,
                                     const TcbRequirements& req) {
  AttestChallenge challenge;
  challenge.nonce = nonces_.Issue(conn.id());
  challenge.pcrs = PcrSelectionFor(req);
  challenge.want_ima_log = req.ima.has_value();
  TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kAttestChallenge,
                                      Encode(challenge), timeouts_.write));
  TVD_ASSIGN_OR_RETURN(
      Frame frame,
      conn.ReadExpected(MessageType::kAttestEvidence, timeouts_.read));
  TVD_ASSIGN_OR_RETURN(Evidence evidence,
                       DecodeOrRefuse(conn, DecodeEvidence(frame.payload)));
  ChannelContext context{conn.id(), conn.peer(), conn.channel_binding()};
  TVD_RETURN_IF_ERROR(verifier_.Verify(context, challenge, req, evidence));
  return conn.WriteFrame(MessageType::kAttestVerdict, {}, timeouts_.write);
}

Status MasterAttestation::Reattest(Connection& conn, const TcbRequirements& req,
                                   const std::atomic<bool>& stop,
                                   const AttestationListener& listener) {
  const auto slice = std::chrono::milliseconds(100);
  for (int round = 2;; ++round) {
    auto due = std::chrono::steady_clock::now() + req.interval;
    while (!stop && std::chrono::steady_clock::now() < due) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          due - std::chrono::steady_clock::now());
      if (!conn.WaitReadable(std::min(left, slice))) continue;
      // The host is not supposed to speak between rounds: either it hung up
      // or it broke the protocol.
      auto frame = conn.ReadFrame(timeouts_.read);
      Status s = frame.ok() ? ProtocolError(
                                  "unsolicited message between "
                                  "attestation rounds")
                            : frame.status();
      if (frame.ok() && frame->type == MessageType::kError) {
        s = channel::DecodeErrorPayload(frame->payload).WithContext("peer");
      }
      if (listener) listener({conn.peer(), conn.peer_address(), round, s});
      return s;
    }
    if (stop) return Status::Ok();
    Status s = AttestOnce(conn, req);
    if (listener) listener({conn.peer(), conn.peer_address(), round, s});
    if (!s.ok()) return s;
  }
}

// ---- host side ----

Status EnrolWithMaster(Connection& conn, Attester& attester,
                       SessionTimeouts timeouts) {
  TVD_ASSIGN_OR_RETURN(EnrolRequest request, attester.MakeEnrolRequest());
  TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kEnrolRequest,
                                      Encode(request), timeouts.write));
  TVD_ASSIGN_OR_RETURN(
      Frame frame,
      conn.ReadExpected(MessageType::kEnrolChallenge, timeouts.read));
  TVD_ASSIGN_OR_RETURN(
      CredentialChallenge challenge,
      DecodeOrRefuse(conn, DecodeCredentialChallenge(frame.payload)));
  auto proof = attester.ActivateCredential(challenge);
  if (!proof.ok()) {
    conn.SendErrorAndClose(proof.status());
    return proof.status();
  }
  TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kEnrolProof, Encode(*proof),
                                      timeouts.write));
  return conn.ReadExpected(MessageType::kEnrolResult, timeouts.read).status();
}

namespace {
Status AnswerOneChallenge(Connection& conn, Attester& attester,
                          std::chrono::milliseconds wait,
                          SessionTimeouts timeouts) {
  TVD_ASSIGN_OR_RETURN(Frame frame,
                       conn.ReadExpected(MessageType::kAttestChallenge, wait));
  TVD_ASSIGN_OR_RETURN(
      AttestChallenge challenge,
      DecodeOrRefuse(conn, DecodeAttestChallenge(frame.payload)));
  auto evidence = attester.Answer(challenge, conn.channel_binding());
  if (!evidence.ok()) {
    conn.SendErrorAndClose(evidence.status());
    return evidence.status();
  }
  TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kAttestEvidence,
                                      Encode(*evidence), timeouts.write));
  return conn.ReadExpected(MessageType::kAttestVerdict, timeouts.read).status();
}
}  // namespace

Status AttestToMaster(Connection& conn, Attester& attester,
                      SessionTimeouts timeouts) {
  TVD_RETURN_IF_ERROR(
      conn.WriteFrame(MessageType::kAttestHello, {}, timeouts.write));
  return AnswerOneChallenge(conn, attester, timeouts.read, timeouts);
}

Status AnswerChallenge(Connection& conn, Attester& attester,
                       SessionTimeouts timeouts) {
  return AnswerOneChallenge(conn, attester, timeouts.read, timeouts);
}

Status ServeReattestation(Connection& conn, Attester& attester,
                          std::chrono::milliseconds idle, int max_rounds,
                          SessionTimeouts timeouts) {
  for (int round = 0; max_rounds == 0 || round < max_rounds; ++round) {
    Status s = AnswerOneChallenge(conn, attester, idle, timeouts);
    if (s.code() == ErrorCode::kUnavailable) return Status::Ok();  // closed
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace tvd::attest
