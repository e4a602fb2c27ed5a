// The attestation exchange over a trusted channel, for both ends.
//
// Host:   [EnrolRequest -> EnrolChallenge -> EnrolProof -> EnrolResult]
//         AttestHello, then answers every AttestChallenge with AttestEvidence
//         (and AttestImaChunk frames when the IMA log does not fit one
//         frame) and reads the AttestVerdict, until the master closes.
// Master: answers enrolment, then on AttestHello challenges, verifies, sends
//         the verdict, and re-attests every `interval` on the same channel.
// Incremental IMA (ima_incremental.h): the challenge offers the state the
// master kept (ima_from); when the host's incremental evidence does not fit
// it, the master sends a second challenge asking for the whole log
// (full_log_reason set) in place of the verdict, and decides on that
// answer. One round costs two quotes then; never more.
// A refusal is sent as a kError frame carrying the reason, then the channel
// closes.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "tvd/attest/attester.h"
#include "tvd/attest/enrolment.h"
#include "tvd/attest/quote_verifier.h"
#include "tvd/attest/requirements.h"
#include "tvd/channel/connection.h"
#include "tvd/status.h"

namespace tvd::attest {

struct SessionTimeouts {
  std::chrono::milliseconds read{10000};
  std::chrono::milliseconds write{10000};
};

// ---- master side ----

// Why an attestation round ended: what the master acts on (eviction).
struct AttestationEvent {
  pki::Identity host;
  std::string peer_address;
  int round = 0;  // 1 = the initial attestation
  Status status;
};
using AttestationListener = std::function<void(const AttestationEvent&)>;

class MasterAttestation {
 public:
  MasterAttestation(AkEnroller& enroller, QuoteVerifier& verifier,
                    NonceRegistry& nonces, SessionTimeouts timeouts = {})
      : enroller_(enroller),
        verifier_(verifier),
        nonces_(nonces),
        timeouts_(timeouts) {}

  // Handles an optional enrolment and the initial attestation. OK when the
  // host is attested; the refusal reason otherwise.
  Status Admit(channel::Connection& conn, const TcbRequirements& req);

  // One challenge/evidence/verdict round on an admitted channel. When it
  // passes and `pcr_digest` is given, the quote's PCR digest is stored
  // there (zeros for a host admitted without a TPM): what a deep quote's
  // statement says about the host's latest good attestation.
  Status AttestOnce(channel::Connection& conn, const TcbRequirements& req,
                    Sha256Digest* pcr_digest = nullptr);

  // Re-attests every req.interval until a round fails, the peer closes, or
  // `stop` becomes true; every round is reported to `listener`. Returns the
  // status of the last round (Unavailable when the peer went away).
  Status Reattest(channel::Connection& conn, const TcbRequirements& req,
                  const std::atomic<bool>& stop,
                  const AttestationListener& listener);

 private:
  Status Enrol(channel::Connection& conn, const channel::Frame& request);

  AkEnroller& enroller_;
  QuoteVerifier& verifier_;
  NonceRegistry& nonces_;
  SessionTimeouts timeouts_;
};

// ---- host side ----

// Sends `evidence` as one AttestEvidence frame and, for an IMA log larger
// than one frame, the AttestImaChunk frames after it (messages.h). A log
// above kMaxImaLog is refused to the master too (kError, then close) and
// returned; otherwise the first write error.
Status WriteEvidence(channel::Connection& conn, const Evidence& evidence,
                     std::chrono::milliseconds timeout);

// Enrols the AK with the master. The master's refusal comes back as its
// Status ("peer: ...").
Status EnrolWithMaster(channel::Connection& conn, Attester& attester,
                       SessionTimeouts timeouts = {});

// Sends AttestHello and answers one challenge; returns the verdict.
Status AttestToMaster(channel::Connection& conn, Attester& attester,
                      SessionTimeouts timeouts = {});

// Reads one AttestChallenge, answers it with evidence bound to this
// channel and reads the verdict: what a host does when the master attests
// a request connection (disk key release). The master's refusal comes back
// as its Status ("peer: ..."), also when it refuses instead of challenging.
Status AnswerChallenge(channel::Connection& conn, Attester& attester,
                       SessionTimeouts timeouts = {});

// Answers further challenges (re-attestation) until the master closes the
// channel (OK), refuses (its Status), or `max_rounds` rounds were answered
// (0: no limit). `idle` bounds the wait for the next challenge.
Status ServeReattestation(channel::Connection& conn, Attester& attester,
                          std::chrono::milliseconds idle, int max_rounds = 0,
                          SessionTimeouts timeouts = {});

}  // namespace tvd::attest
