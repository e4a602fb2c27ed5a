// Host side of attestation: answers the master's requests with the TPM.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "tvd/attest/messages.h"
#include "tvd/attest/tpm.h"
#include "tvd/status.h"

namespace tvd::attest {

struct AttesterOptions {
  // Where the IMA log is read from when the master asks for it.
  std::string ima_log_path =
      "/sys/kernel/security/ima/ascii_runtime_measurements";
};

class Attester {
 public:
  // `tpm` may be null: a host without a TPM answers "no TPM".
  Attester(Tpm* tpm, AttesterOptions options)
      : tpm_(tpm), options_(std::move(options)) {}

  StatusOr<EnrolRequest> MakeEnrolRequest();
  StatusOr<EnrolProof> ActivateCredential(const CredentialChallenge& c);

  // Quotes over the challenge's PCRs with qualifying data
  // SHA-256(nonce || channel_binding), reads the PCR values (retrying if a
  // PCR changed between quote and read), adds the IMA log if asked.
  StatusOr<Evidence> Answer(const AttestChallenge& challenge,
                            std::span<const std::uint8_t> channel_binding);

 private:
  Tpm* tpm_;
  AttesterOptions options_;
};

}  // namespace tvd::attest
