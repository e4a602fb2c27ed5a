#include "software_tpm.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>

namespace tvd::attest::testing {

SoftwareTpm::SoftwareTpm()
    : magic(TPM2_GENERATED_VALUE), attest_type(TPM2_ST_ATTEST_QUOTE) {
  key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  std::uint8_t point[65];
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point,
                                  sizeof point, &len);
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& p = pub.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
                       TPMA_OBJECT_SIGN_ENCRYPT;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  p.unique.ecc.x.size = 32;
  std::memcpy(p.unique.ecc.x.buffer, point + 1, 32);
  p.unique.ecc.y.size = 32;
  std::memcpy(p.unique.ecc.y.buffer, point + 33, 32);
  ak_public_.resize(sizeof pub);
  size_t off = 0;
  Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, ak_public_.data(), ak_public_.size(),
                               &off);
  ak_public_.resize(off);
  clock = {1000, 3, 0};
}

StatusOr<std::vector<std::uint8_t>> SoftwareTpm::EkPublic() {
  return FailedPrecondition("software TPM has no EK");
}
StatusOr<std::vector<std::uint8_t>> SoftwareTpm::AkPublic() {
  return ak_public_;
}
StatusOr<SecureBytes> SoftwareTpm::ActivateCredential(
    const CredentialChallenge&) {
  return FailedPrecondition("software TPM has no EK");
}

void SoftwareTpm::Extend(std::uint32_t pcr, const Sha256Digest& digest) {
  Sha256Hasher h;
  h.Update(pcrs_[pcr]);
  h.Update(digest);
  pcrs_[pcr] = h.Finish();
}

StatusOr<QuoteOutput> SoftwareTpm::Quote(std::span<const std::uint32_t> pcrs,
                                         const Sha256Digest& qualifying_data) {
  TPMS_ATTEST a{};
  a.magic = magic;
  a.type = attest_type;
  a.extraData.size = 32;
  std::memcpy(a.extraData.buffer, qualifying_data.data(), 32);
  a.clockInfo.clock = clock.clock;
  a.clockInfo.resetCount = clock.reset_count;
  a.clockInfo.restartCount = clock.restart_count;
  a.clockInfo.safe = 1;
  clock.clock += 1;
  TPML_PCR_SELECTION& sel = a.attested.quote.pcrSelect;
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  std::vector<std::uint32_t> sorted(pcrs.begin(), pcrs.end());
  std::sort(sorted.begin(), sorted.end());
  Sha256Hasher h;
  for (std::uint32_t i : sorted) {
    sel.pcrSelections[0].pcrSelect[i / 8] |= static_cast<BYTE>(1u << (i % 8));
    h.Update(pcrs_[i]);
  }
  Sha256Digest digest = h.Finish();
  a.attested.quote.pcrDigest.size = 32;
  std::memcpy(a.attested.quote.pcrDigest.buffer, digest.data(), 32);

  QuoteOutput out;
  out.attest.resize(sizeof a);
  size_t off = 0;
  Tss2_MU_TPMS_ATTEST_Marshal(&a, out.attest.data(), out.attest.size(), &off);
  out.attest.resize(off);

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::vector<std::uint8_t> der(128);
  size_t der_len = der.size();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get());
  EVP_DigestSign(ctx, der.data(), &der_len, out.attest.data(),
                 out.attest.size());
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = der.data();
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDSA;
  sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
  sig.signature.ecdsa.signatureR.size = static_cast<UINT16>(BN_bn2binpad(
      ECDSA_SIG_get0_r(es), sig.signature.ecdsa.signatureR.buffer, 32));
  sig.signature.ecdsa.signatureS.size = static_cast<UINT16>(BN_bn2binpad(
      ECDSA_SIG_get0_s(es), sig.signature.ecdsa.signatureS.buffer, 32));
  ECDSA_SIG_free(es);
  out.signature.resize(sizeof sig);
  off = 0;
  Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out.signature.data(),
                                 out.signature.size(), &off);
  out.signature.resize(off);
  if (after_quote) after_quote();
  return out;
}

StatusOr<std::vector<PcrValue>> SoftwareTpm::ReadPcrs(
    std::span<const std::uint32_t> pcrs) {
  std::vector<PcrValue> out;
  for (std::uint32_t i : pcrs) out.push_back({i, pcrs_[i]});
  return out;
}

}  // namespace tvd::attest::testing
