// MakeCredential in software (verifier side), per TPM 2.0 Part 1 "Credential
// Protection" and Part 3 TPM2_MakeCredential, for an RSA endorsement key:
//
//   seed    = 32 random bytes (size of the EK's nameAlg digest)
//   secret  = RSA-OAEP-SHA256(EK, seed, label "IDENTITY\0")
//   symKey  = KDFa(SHA-256, seed, "STORAGE", AK name, -, 128 bits)
//   encCred = AES-128-CFB(symKey, IV 0, TPM2B_DIGEST(credential))
//   hmacKey = KDFa(SHA-256, seed, "INTEGRITY", -, -, 256 bits)
//   hmac    = HMAC-SHA-256(hmacKey, encCred || AK name)
//   blob    = TPM2B_ID_OBJECT(TPM2B_DIGEST(hmac) || encCred)
//
// Only a TPM holding the EK's private part can recover the credential, and it
// releases it only for an object whose name equals `ak_name`.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tvd/attest/tpm.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::attest {

// KDFa (TPM 2.0 Part 1, 11.4.10.2) with HMAC-SHA-256. `label` is given
// without its terminating zero (added here).
SecureBytes KdfaSha256(std::span<const std::uint8_t> key,
                       std::string_view label,
                       std::span<const std::uint8_t> context_u,
                       std::span<const std::uint8_t> context_v,
                       std::size_t bits);

// `credential` must be 1..32 bytes. InvalidArgument for a bad EK public
// area or credential size; Internal when OpenSSL fails.
StatusOr<CredentialChallenge> MakeCredential(
    std::span<const std::uint8_t> ek_public,
    std::span<const std::uint8_t> ak_name,
    std::span<const std::uint8_t> credential);

}  // namespace tvd::attest
