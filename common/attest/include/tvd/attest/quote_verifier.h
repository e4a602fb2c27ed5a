// The master's judgement of one piece of evidence.
//
// Checks, in this order, each refusal with its own reason (the Status
// message; codes are Unauthenticated for identity/freshness/binding
// failures, PermissionDenied for a TCB that does not meet requirements, and
// InvalidArgument for an IMA log that is malformed or edited):
//   no TPM:    "host reports no TPM and the requirements need one"
//   nonce:     NonceRegistry::Consume reasons ("nonce replayed: ...", ...)
//   AK:        "AK <name> is not enrolled for <host>"
//   structure: "quote does not unmarshal as TPMS_ATTEST", "quote magic is
//              not TPM_GENERATED_VALUE", "attestation is not a quote"
//   signature: "quote signature does not verify with the enrolled AK"
//   binding:   "quote is not bound to this nonce and TLS session (relayed
//              from another session?)"
//   counters:  AkRegistry::AdvanceClock reasons
//   selection: "quote covers PCRs {..} but {..} were requested"
//   values:    "reported PCR values do not match the quoted PCR digest"
//   known-good "PCR N value <hex> is not a known-good value"
//   measured boot (requirements.measured_boot): "the requirements need the
//              host's event log (measured boot) but the evidence carries
//              none", then ParseEventLog's reasons (InvalidArgument),
//              CheckEventLogReplay's against the quoted PCRs 0-7, and
//              CheckMeasuredBoot's (event_log.h, measured_boot.h)
//   IMA:       "evidence sends the IMA log from entry O but the challenge
//              asked for entry 0 or F" (InvalidArgument), then
//              VerifyImaEvidence's reasons (ima_incremental.h): ReplayImaLog
//              reasons (boot_aggregate checked against the quoted PCRs
//              0-9), "evidence counts E IMA entries but its log has N from
//              entry O", "IMA log replay gives PCR 10 <hex> but the quoted
//              PCR 10 is <hex> (N entries)"
// With an ImaReplayCache, the challenge offers the host the state its last
// good quote left (ImaStartFor), the host sends only the entries past it,
// and only those are replayed; when the kept state does not apply, Check
// says so (need_full_log) and the caller asks again for the whole log. The
// state is kept only after every check passed.
// Thread-safe (the registries and the cache are); Verify may run on many
// threads.
#pragma once

#include <cstdint>

#include "tvd/attest/ak_registry.h"
#include "tvd/attest/ima_replay_cache.h"
#include "tvd/attest/messages.h"
#include "tvd/attest/nonce_registry.h"
#include "tvd/attest/requirements.h"
#include "tvd/pki/identity.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

// SHA-256(nonce || channel binding): the quote's qualifying data.
Sha256Digest QualifyingData(const Nonce& nonce,
                            std::span<const std::uint8_t> channel_binding);

// What the verifier knows about the channel the evidence arrived on.
struct ChannelContext {
  std::uint64_t connection_id = 0;
  pki::Identity host;
  std::span<const std::uint8_t> channel_binding;
};

// Where a host's next IMA evidence may start (AttestChallenge's ima_from
// and ima_pcr10).
struct ImaStart {
  std::uint64_t from = 0;
  Sha256Digest pcr10{};
};

struct QuoteVerdict {
  // The verdict, unless need_full_log is set.
  Status status;
  // Non-empty: the evidence was incremental and the kept state did not
  // apply (the reason, ima_incremental.h); nothing was decided about the
  // host's TCB. Ask again with ima_from = 0 and this as full_log_reason.
  std::string need_full_log;
};

class QuoteVerifier {
 public:
  // `ima_cache` (may be null: every quote is a full replay) must outlive
  // the verifier.
  QuoteVerifier(AkRegistry& aks, NonceRegistry& nonces,
                ImaReplayCache* ima_cache = nullptr)
      : aks_(aks), nonces_(nonces), ima_cache_(ima_cache) {}

  // What to offer `host` in a challenge for `requirements`: the state kept
  // for its last good quote under the same allowlist; {0, zeros} without a
  // cache, without IMA, or with nothing kept.
  ImaStart ImaStartFor(const pki::Identity& host,
                       const TcbRequirements& requirements) const;

  // `challenge` is what the master sent on this channel; the evidence must
  // answer exactly it.
  QuoteVerdict Check(const ChannelContext& channel,
                     const AttestChallenge& challenge,
                     const TcbRequirements& requirements,
                     const Evidence& evidence) const;

  // Check as one Status; need_full_log becomes FailedPrecondition
  // "incremental IMA evidence did not apply (<reason>); the whole log is
  // needed".
  Status Verify(const ChannelContext& channel, const AttestChallenge& challenge,
                const TcbRequirements& requirements,
                const Evidence& evidence) const;

 private:
  // Check's work; sets need_full_log (and returns OK) for a fallback.
  Status CheckQuote(const ChannelContext& channel,
                    const AttestChallenge& challenge,
                    const TcbRequirements& requirements,
                    const Evidence& evidence, std::string& need_full_log) const;

  AkRegistry& aks_;
  NonceRegistry& nonces_;
  ImaReplayCache* const ima_cache_;
};

}  // namespace tvd::attest
