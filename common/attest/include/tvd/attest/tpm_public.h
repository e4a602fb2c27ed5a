// Reading TPM public areas on the verifier side (tss2-mu + OpenSSL).
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tvd/status.h"

namespace tvd::attest {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// The TPM name of an object: nameAlg (u16) || H_nameAlg(TPMT_PUBLIC).
// `tpm2b_public` is a marshalled TPM2B_PUBLIC. InvalidArgument when it does
// not unmarshal exactly or its nameAlg is not SHA-256.
StatusOr<std::vector<std::uint8_t>> TpmObjectName(
    std::span<const std::uint8_t> tpm2b_public);

// Checks that `ak_public` is an attestation key: restricted, sign, not
// decrypt, fixedTPM, fixedParent, sensitiveDataOrigin, SHA-256 nameAlg, and
// RSA-2048/RSASSA-SHA256 or ECC P-256/ECDSA-SHA256. InvalidArgument saying
// which property is missing.
Status CheckAttestationKey(std::span<const std::uint8_t> ak_public);

// Checks that `ek_public` is a restricted RSA-2048 decryption key with
// AES-128-CFB, as MakeCredential here supports.
Status CheckEndorsementKey(std::span<const std::uint8_t> ek_public);

// The public key of an RSA or ECC TPM2B_PUBLIC as an OpenSSL key.
StatusOr<EvpPkeyPtr> PublicKeyFromTpm(
    std::span<const std::uint8_t> tpm2b_public);

}  // namespace tvd::attest
