#include "tvd/attest/quote_check.h"

#include <openssl/ecdsa.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>

#include "tvd/sha256.h"

namespace tvd::attest {
namespace {}  // namespace

std::string PcrListText(const std::vector<std::uint32_t>& pcrs) {
  std::string out = "{";
  for (std::size_t i = 0; i < pcrs.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(pcrs[i]);
  }
  return out + "}";
}

// The DER signature OpenSSL verifies, from a TPMT_SIGNATURE, checking its
// scheme matches the key type.
StatusOr<std::vector<std::uint8_t>> SignatureBytes(const TPMT_SIGNATURE& sig,
                                                   EVP_PKEY* key) {
  bool rsa_key = EVP_PKEY_is_a(key, "RSA");
  if (sig.sigAlg == TPM2_ALG_RSASSA && rsa_key) {
    if (sig.signature.rsassa.hash != TPM2_ALG_SHA256) {
      return Unauthenticated("quote signature hash is not SHA-256");
    }
    const auto& s = sig.signature.rsassa.sig;
    return std::vector<std::uint8_t>(s.buffer, s.buffer + s.size);
  }
  if (sig.sigAlg == TPM2_ALG_ECDSA && !rsa_key) {
    if (sig.signature.ecdsa.hash != TPM2_ALG_SHA256) {
      return Unauthenticated("quote signature hash is not SHA-256");
    }
    const auto& r = sig.signature.ecdsa.signatureR;
    const auto& s = sig.signature.ecdsa.signatureS;
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* br = BN_bin2bn(r.buffer, r.size, nullptr);
    BIGNUM* bs = BN_bin2bn(s.buffer, s.size, nullptr);
    if (es == nullptr || br == nullptr || bs == nullptr ||
        ECDSA_SIG_set0(es, br, bs) != 1) {
      BN_free(br);
      BN_free(bs);
      ECDSA_SIG_free(es);
      return Internal("out of memory");
    }
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (len <= 0) return Internal("cannot encode ECDSA signature");
    std::vector<std::uint8_t> out(der, der + len);
    OPENSSL_free(der);
    return out;
  }
  return Unauthenticated("quote signature scheme does not match the AK");
}

bool VerifySignature(EVP_PKEY* key, EVP_PKEY_CTX* prepared,
                     std::span<const std::uint8_t> message,
                     std::span<const std::uint8_t> signature) {
  if (prepared != nullptr) {
    // A copy of the caller's context, set up once for this key: no
    // algorithm lookups per quote.
    Sha256Digest digest = Sha256(message);
    EVP_PKEY_CTX* copy = EVP_PKEY_CTX_dup(prepared);
    bool ok = copy != nullptr &&
              EVP_PKEY_verify(copy, signature.data(), signature.size(),
                              digest.data(), digest.size()) == 1;
    EVP_PKEY_CTX_free(copy);
    return ok;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, signature.data(), signature.size(), message.data(),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

StatusOr<TPMS_ATTEST> ParseQuoteAttest(std::span<const std::uint8_t> bytes) {
  TPMS_ATTEST attest{};
  size_t off = 0;
  TSS2_RC rc =
      Tss2_MU_TPMS_ATTEST_Unmarshal(bytes.data(), bytes.size(), &off, &attest);
  if (rc != TSS2_RC_SUCCESS || off != bytes.size()) {
    return Unauthenticated("quote does not unmarshal as TPMS_ATTEST");
  }
  if (attest.magic != TPM2_GENERATED_VALUE) {
    return Unauthenticated("quote magic is not TPM_GENERATED_VALUE");
  }
  if (attest.type != TPM2_ST_ATTEST_QUOTE) {
    return Unauthenticated("attestation is not a quote");
  }
  return attest;
}

Status VerifyQuoteSignature(EVP_PKEY* key, std::span<const std::uint8_t> attest,
                            std::span<const std::uint8_t> signature,
                            const std::string& mismatch,
                            EVP_PKEY_CTX* prepared) {
  TPMT_SIGNATURE sig{};
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(signature.data(),
                                                signature.size(), &off, &sig);
  if (rc != TSS2_RC_SUCCESS || off != signature.size()) {
    return Unauthenticated("quote signature does not unmarshal");
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> der, SignatureBytes(sig, key));
  if (!VerifySignature(key, prepared, attest, der)) {
    return Unauthenticated(mismatch);
  }
  return Status::Ok();
}

bool QuoteQualifies(const TPMS_ATTEST& quote,
                    std::span<const std::uint8_t> expected) {
  return quote.extraData.size == expected.size() &&
         std::memcmp(quote.extraData.buffer, expected.data(),
                     expected.size()) == 0;
}

StatusOr<std::vector<PcrValue>> CheckQuotedPcrs(
    const TPMS_ATTEST& attest, std::vector<std::uint32_t> wanted,
    std::vector<PcrValue> values) {
  std::vector<std::uint32_t> quoted;
  const TPML_PCR_SELECTION& sel = attest.attested.quote.pcrSelect;
  bool selection_ok = sel.count == 1 &&
                      sel.pcrSelections[0].hash == TPM2_ALG_SHA256 &&
                      sel.pcrSelections[0].sizeofSelect <= 3;
  if (selection_ok) {
    const TPMS_PCR_SELECTION& s = sel.pcrSelections[0];
    for (std::uint32_t i = 0; i < 8u * s.sizeofSelect; ++i) {
      if (s.pcrSelect[i / 8] & (1u << (i % 8))) quoted.push_back(i);
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (!selection_ok || quoted != wanted) {
    return Unauthenticated("quote covers PCRs " + PcrListText(quoted) +
                           " (SHA-256 bank) but " + PcrListText(wanted) +
                           " were requested");
  }

  // The reported values must be the ones the TPM digested, in index order.
  std::sort(
      values.begin(), values.end(),
      [](const PcrValue& a, const PcrValue& b) { return a.index < b.index; });
  bool values_ok = values.size() == wanted.size();
  Sha256Hasher h;
  for (std::size_t i = 0; values_ok && i < values.size(); ++i) {
    values_ok = values[i].index == wanted[i];
    h.Update(values[i].value);
  }
  Sha256Digest digest = h.Finish();
  const TPM2B_DIGEST& quoted_digest = attest.attested.quote.pcrDigest;
  if (!values_ok || quoted_digest.size != digest.size() ||
      std::memcmp(quoted_digest.buffer, digest.data(), digest.size()) != 0) {
    return Unauthenticated(
        "reported PCR values do not match the quoted PCR digest");
  }
  return values;
}

}  // namespace tvd::attest
