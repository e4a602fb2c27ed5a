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
//   IMA:       ReplayImaLog reasons (boot_aggregate checked against the
//              quoted PCRs 0-9), then "IMA log replay gives PCR 10 <hex>
//              but the quoted PCR 10 is <hex> (N entries)"
// Thread-safe (the registries are); Verify may run on many threads.
#pragma once

#include <cstdint>

#include "tvd/attest/ak_registry.h"
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

class QuoteVerifier {
 public:
  QuoteVerifier(AkRegistry& aks, NonceRegistry& nonces)
      : aks_(aks), nonces_(nonces) {}

  // `challenge` is what the master sent on this channel; the evidence must
  // answer exactly it.
  Status Verify(const ChannelContext& channel, const AttestChallenge& challenge,
                const TcbRequirements& requirements,
                const Evidence& evidence) const;

 private:
  AkRegistry& aks_;
  NonceRegistry& nonces_;
};

}  // namespace tvd::attest
