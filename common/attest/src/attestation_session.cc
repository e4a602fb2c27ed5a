#include "tvd/attest/attestation_session.h"

#include <algorithm>

#include "tvd/attest/quote_check.h"
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

// An evidence frame and the chunk frames that complete its IMA log.
StatusOr<Evidence> ReadEvidence(Connection& conn,
                                const SessionTimeouts& timeouts) {
  TVD_ASSIGN_OR_RETURN(
      Frame frame,
      conn.ReadExpected(MessageType::kAttestEvidence, timeouts.read));
  TVD_ASSIGN_OR_RETURN(Evidence evidence,
                       DecodeOrRefuse(conn, DecodeEvidence(frame.payload)));
  while (evidence.ima_log_pending != 0) {
    TVD_ASSIGN_OR_RETURN(
        Frame chunk,
        conn.ReadExpected(MessageType::kAttestImaChunk, timeouts.read));
    Status appended = AppendImaChunk(evidence, chunk.payload);
    if (!appended.ok()) {
      conn.SendErrorAndClose(appended);
      return appended;
    }
  }
  return evidence;
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
                                     const TcbRequirements& req,
                                     Sha256Digest* pcr_digest) {
  AttestChallenge challenge;
  challenge.pcrs = PcrSelectionFor(req);
  challenge.want_ima_log = req.ima.has_value();
  challenge.want_event_log = req.measured_boot.has_value();
  if (challenge.want_ima_log) {
    ImaStart start = verifier_.ImaStartFor(conn.peer(), req);
    challenge.ima_from = start.from;
    challenge.ima_pcr10 = start.pcr10;
  }
  // At most two rounds: incremental evidence the kept state does not fit
  // is answered by a challenge for the whole log, whose verdict is final.
  for (int round = 0;; ++round) {
    challenge.nonce = nonces_.Issue(conn.id());
    TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kAttestChallenge,
                                        Encode(challenge), timeouts_.write));
    TVD_ASSIGN_OR_RETURN(Evidence evidence, ReadEvidence(conn, timeouts_));
    ChannelContext context{conn.id(), conn.peer(), conn.channel_binding()};
    QuoteVerdict verdict = verifier_.Check(context, challenge, req, evidence);
    if (!verdict.need_full_log.empty() && round == 0) {
      log::Info("attestation of ", conn.peer().ToString(),
                ": asking for the whole IMA log: ", verdict.need_full_log);
      challenge.ima_from = 0;
      challenge.ima_pcr10 = {};
      challenge.full_log_reason =
          verdict.need_full_log.substr(0, kMaxChallengeReason);
      continue;
    }
    if (!verdict.need_full_log.empty()) {
      // Cannot happen: evidence from entry 0 is always replayed in full.
      return Internal("whole IMA log asked for twice: " +
                      verdict.need_full_log);
    }
    TVD_RETURN_IF_ERROR(verdict.status);
    if (pcr_digest != nullptr) {
      *pcr_digest = {};
      if (evidence.has_tpm) {
        // Verified above, so it parses; a digest of another size stays 0.
        auto quote = ParseQuoteAttest(evidence.quote.attest);
        if (quote.ok() && quote->attested.quote.pcrDigest.size == 32) {
          std::copy_n(quote->attested.quote.pcrDigest.buffer, 32,
                      pcr_digest->begin());
        }
      }
    }
    return conn.WriteFrame(MessageType::kAttestVerdict, {}, timeouts_.write);
  }
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

Status WriteEvidence(Connection& conn, const Evidence& evidence,
                     std::chrono::milliseconds timeout) {
  auto frames = EncodeEvidenceFrames(evidence);
  if (!frames.ok()) {
    conn.SendErrorAndClose(frames.status());
    return frames.status();
  }
  for (std::size_t i = 0; i < frames->size(); ++i) {
    TVD_RETURN_IF_ERROR(conn.WriteFrame(
        i == 0 ? MessageType::kAttestEvidence : MessageType::kAttestImaChunk,
        (*frames)[i], timeout));
  }
  return Status::Ok();
}

namespace {
Status AnswerOneChallenge(Connection& conn, Attester& attester,
                          std::chrono::milliseconds wait,
                          SessionTimeouts timeouts) {
  TVD_ASSIGN_OR_RETURN(Frame frame,
                       conn.ReadExpected(MessageType::kAttestChallenge, wait));
  // The master may answer incremental evidence with one challenge for the
  // whole log (AttestChallenge::full_log_reason) in place of the verdict.
  for (int round = 0;; ++round) {
    TVD_ASSIGN_OR_RETURN(
        AttestChallenge challenge,
        DecodeOrRefuse(conn, DecodeAttestChallenge(frame.payload)));
    if (round > 0 && challenge.full_log_reason.empty()) {
      Status s = ProtocolError(
          "a challenge in place of the verdict must ask for the whole IMA "
          "log");
      conn.SendErrorAndClose(s);
      return s;
    }
    if (!challenge.full_log_reason.empty()) {
      log::Info("master asks for the whole IMA log: ",
                challenge.full_log_reason);
    }
    auto evidence = attester.Answer(challenge, conn.channel_binding());
    if (!evidence.ok()) {
      conn.SendErrorAndClose(evidence.status());
      return evidence.status();
    }
    TVD_RETURN_IF_ERROR(WriteEvidence(conn, *evidence, timeouts.write));
    TVD_ASSIGN_OR_RETURN(frame, conn.ReadFrame(timeouts.read));
    if (frame.type == MessageType::kError) {
      return channel::DecodeErrorPayload(frame.payload).WithContext("peer");
    }
    if (frame.type == MessageType::kAttestVerdict) return Status::Ok();
    if (frame.type != MessageType::kAttestChallenge || round > 0) {
      Status s = ProtocolError("unexpected message type " +
                               std::to_string(static_cast<int>(frame.type)) +
                               " (expected the attestation verdict)");
      conn.SendErrorAndClose(s);
      return s;
    }
  }
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
