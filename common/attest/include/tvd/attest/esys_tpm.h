// Tpm on tpm2-tss ESYS, through a TCTI named by a string:
//   "swtpm:host=127.0.0.1,port=2321"  (tests, the testbed)
//   "device:/dev/tpmrm0"              (production, via the resource manager)
//
// Keys: the EK is the TCG default RSA-2048 endorsement key (template L-1:
// AES-128-CFB storage parent, policy = PolicySecret(endorsement)); the AK is
// a primary restricted signing key in the endorsement hierarchy (RSA-2048
// RSASSA-SHA256 or ECC P-256 ECDSA-SHA256). Both are recreated from the
// endorsement seed, so nothing has to be persisted in NV; `ak_label` goes
// into the AK template's unique field so one TPM can hold distinct AKs
// (except for a VM's vTPM AK, AkAlgorithm::kVtpm).
// With a `key_cache`, a key created once is saved (TPM2_ContextSave) and
// later openings load it instead of re-creating it (tpm_key_cache.h).
//
// Not thread-safe: one EsysTpm is used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "tvd/attest/tpm.h"
#include "tvd/attest/tpm_key_cache.h"

namespace tvd::attest {

// kVtpm: exactly the vTPM AK template (vtpm_ak_template.h), which the guest
// quote tool re-creates; `ak_label` is not used then (its unique is empty).
enum class AkAlgorithm { kRsa2048, kEccP256, kVtpm };

struct EsysTpmOptions {
  std::string tcti = "device:/dev/tpmrm0";
  AkAlgorithm ak_algorithm = AkAlgorithm::kRsa2048;
  std::string ak_label = "tvd-ak";
  // Shared by the openings of one process; null: keys are created on each
  // opening that needs them.
  std::shared_ptr<TpmKeyCache> key_cache;
};

class EsysTpm : public Tpm {
 public:
  // Unavailable when the TCTI cannot be loaded or the TPM does not answer.
  static StatusOr<std::unique_ptr<EsysTpm>> Open(const EsysTpmOptions& options);
  ~EsysTpm() override;

  StatusOr<std::vector<std::uint8_t>> EkPublic() override;
  StatusOr<std::vector<std::uint8_t>> AkPublic() override;
  StatusOr<SecureBytes> ActivateCredential(
      const CredentialChallenge& challenge) override;
  StatusOr<QuoteOutput> Quote(std::span<const std::uint32_t> pcrs,
                              const Sha256Digest& qualifying_data) override;
  StatusOr<std::vector<PcrValue>> ReadPcrs(
      std::span<const std::uint32_t> pcrs) override;

  // Extends `pcr` in the SHA-256 bank only (what IMA's SHA-256 replay
  // models). For tests and tools; hosts leave PCRs to the kernel.
  Status ExtendPcr(std::uint32_t pcr, const Sha256Digest& digest);
  // Resets a resettable PCR (16 or 23, the debug/application PCRs).
  Status ResetPcr(std::uint32_t pcr);

 private:
  struct Impl;
  explicit EsysTpm(std::unique_ptr<Impl> impl);
  Status EnsureEk();
  Status EnsureAk();
  std::unique_ptr<Impl> impl_;
};

}  // namespace tvd::attest
