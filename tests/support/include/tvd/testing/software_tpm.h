// A software stand-in for a TPM, for unit tests of the verifier and the
// attester and for the master benchmark's thousands of simulated hosts
// (where one swtpm process per host would not fit): an ECC P-256 AK held by
// OpenSSL, optionally an RSA-2048 EK with ActivateCredential done as the TPM
// does it, a SHA-256 PCR bank in memory, and quotes marshalled and signed
// exactly as a TPM would. Knobs let a test forge what a real TPM never would
// (a wrong magic, a clock going back). Integration tests use swtpm, never
// this.
#pragma once

#include <openssl/evp.h>

#include <functional>
#include <map>
#include <memory>

#include "tvd/attest/ak_registry.h"
#include "tvd/attest/tpm.h"
#include "tvd/attest/tpm_public.h"

namespace tvd::attest::testing {

// An RSA-2048 endorsement key. Generating one costs tens of milliseconds,
// so a benchmark's simulated hosts may share one (each still has its own
// AK, and the master trusts the EK per host).
using SoftwareEk = std::shared_ptr<EVP_PKEY>;
// Internal "RSA key generation failed" when OpenSSL fails.
StatusOr<SoftwareEk> NewSoftwareEk();

class SoftwareTpm : public Tpm {
 public:
  // Without an EK, EkPublic and ActivateCredential answer FailedPrecondition
  // "software TPM has no EK".
  explicit SoftwareTpm(SoftwareEk ek = nullptr);

  StatusOr<std::vector<std::uint8_t>> EkPublic() override;
  StatusOr<std::vector<std::uint8_t>> AkPublic() override;
  StatusOr<SecureBytes> ActivateCredential(
      const CredentialChallenge& challenge) override;
  StatusOr<QuoteOutput> Quote(std::span<const std::uint32_t> pcrs,
                              const Sha256Digest& qualifying_data) override;
  StatusOr<std::vector<PcrValue>> ReadPcrs(
      std::span<const std::uint32_t> pcrs) override;

  void Extend(std::uint32_t pcr, const Sha256Digest& digest);
  // Clock state reported by the next quote; the clock then advances by 1.
  TpmClockState clock;
  // Forgeries.
  std::uint32_t magic;
  std::uint16_t attest_type;
  // Called between Quote and ReadPcrs results (simulates IMA racing).
  std::function<void()> after_quote;

 private:
  EvpPkeyPtr key_;
  std::vector<std::uint8_t> ak_public_;
  SoftwareEk ek_;
  std::vector<std::uint8_t> ek_public_;
  std::map<std::uint32_t, Sha256Digest> pcrs_;
};

}  // namespace tvd::attest::testing
