// The TPM as the attestation code needs it: a small interface so the host
// side can run against a real TPM (EsysTpm, esys_tpm.h) or, in unit tests, a
// software stand-in.
//
// All structures cross this interface in their TPM 2.0 marshalled form
// (tss2-mu), exactly as the TPM produced them, so the verifier checks the
// bytes the TPM signed and nothing re-encoded.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

// One PCR of the SHA-256 bank.
struct PcrValue {
  std::uint32_t index = 0;
  Sha256Digest value{};
  friend bool operator==(const PcrValue&, const PcrValue&) = default;
};

struct QuoteOutput {
  std::vector<std::uint8_t> attest;     // TPMS_ATTEST (TPM2B_ATTEST contents)
  std::vector<std::uint8_t> signature;  // TPMT_SIGNATURE
};

// Credential made by the verifier for ActivateCredential.
struct CredentialChallenge {
  std::vector<std::uint8_t> credential_blob;   // TPM2B_ID_OBJECT
  std::vector<std::uint8_t> encrypted_secret;  // TPM2B_ENCRYPTED_SECRET
};

class Tpm {
 public:
  virtual ~Tpm() = default;

  // The endorsement key's public area (TPM2B_PUBLIC).
  virtual StatusOr<std::vector<std::uint8_t>> EkPublic() = 0;
  // The attestation key's public area (TPM2B_PUBLIC): a restricted signing
  // key in the endorsement hierarchy, made on first use.
  virtual StatusOr<std::vector<std::uint8_t>> AkPublic() = 0;
  // Decrypts a MakeCredential challenge with the EK, for the AK; the TPM
  // releases the secret only if the AK's name matches the one it was made
  // for. PermissionDenied when the TPM refuses.
  virtual StatusOr<SecureBytes> ActivateCredential(
      const CredentialChallenge& challenge) = 0;
  // A quote by the AK over `pcrs` (SHA-256 bank) with `qualifying_data`.
  virtual StatusOr<QuoteOutput> Quote(std::span<const std::uint32_t> pcrs,
                                      const Sha256Digest& qualifying_data) = 0;
  // Current values of `pcrs` in the SHA-256 bank, in the order given.
  virtual StatusOr<std::vector<PcrValue>> ReadPcrs(
      std::span<const std::uint32_t> pcrs) = 0;
};

}  // namespace tvd::attest
