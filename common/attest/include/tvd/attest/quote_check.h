// The checks of one TPM2_Quote that every verifier makes, shared by the
// master's QuoteVerifier (host quotes) and VerifyDeepQuote (a VM's vTPM
// quote): the structure, the signature, the PCR selection and values. Each
// refusal is Unauthenticated with the reason named below.
#pragma once

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tvd/attest/tpm.h"
#include "tvd/status.h"

namespace tvd::attest {

// `attest` (TPMS_ATTEST bytes) unmarshalled, checked to be a quote the TPM
// made: "quote does not unmarshal as TPMS_ATTEST", "quote magic is not
// TPM_GENERATED_VALUE", "attestation is not a quote".
StatusOr<TPMS_ATTEST> ParseQuoteAttest(std::span<const std::uint8_t> attest);

// Checks `signature` (TPMT_SIGNATURE) over `attest` with `key`: "quote
// signature does not unmarshal", "quote signature hash is not SHA-256",
// "quote signature scheme does not match the AK", and `mismatch` when the
// signature is well-formed but does not verify. `prepared`, when given, is
// `key` set up for checking a signature over a SHA-256 digest
// (EnrolledAk::verify_digest): the check then runs on a copy of it instead
// of setting up a context from `key`.
Status VerifyQuoteSignature(EVP_PKEY* key, std::span<const std::uint8_t> attest,
                            std::span<const std::uint8_t> signature,
                            const std::string& mismatch,
                            EVP_PKEY_CTX* prepared = nullptr);

// True when the quote's qualifying data (extraData) is exactly `expected`.
bool QuoteQualifies(const TPMS_ATTEST& quote,
                    std::span<const std::uint8_t> expected);

// Checks that `quote` covers exactly `wanted` (SHA-256 bank; sorted and
// de-duplicated here) and that `values` are what it digested. Returns
// `values` in index order. "quote covers PCRs {..} (SHA-256 bank) but {..}
// were requested", "reported PCR values do not match the quoted PCR
// digest".
StatusOr<std::vector<PcrValue>> CheckQuotedPcrs(
    const TPMS_ATTEST& quote, std::vector<std::uint32_t> wanted,
    std::vector<PcrValue> values);

// "{1,2,3}".
std::string PcrListText(const std::vector<std::uint32_t>& pcrs);

}  // namespace tvd::attest
