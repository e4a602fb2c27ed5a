#include "tvd/testing/software_tpm.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>

#include "tvd/attest/credential.h"
#include "tvd/attest/credential_structures.h"

namespace tvd::attest::testing {
namespace {

// The public area a TPM shows for an EK made from the TCG default template
// (esys_tpm.cc's EkTemplate) with `key`'s modulus.
std::vector<std::uint8_t> EkPublicArea(EVP_PKEY* key) {
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& p = pub.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
                       TPMA_OBJECT_DECRYPT;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
  p.unique.rsa.size =
      static_cast<UINT16>(BN_bn2binpad(n, p.unique.rsa.buffer, 256));
  BN_free(n);
  std::vector<std::uint8_t> out(sizeof pub);
  size_t off = 0;
  Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &off);
  out.resize(off);
  return out;
}

StatusOr<SecureBytes> OaepDecryptSeed(EVP_PKEY* ek,
                                      std::span<const std::uint8_t> in) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, ek, nullptr);
  static const char kLabel[] = "IDENTITY";  // sizeof includes the NUL
  unsigned char* label =
      static_cast<unsigned char*>(OPENSSL_memdup(kLabel, sizeof kLabel));
  bool ok = ctx != nullptr && label != nullptr &&
            EVP_PKEY_decrypt_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, sizeof kLabel) == 1;
  if (!ok) OPENSSL_free(label);
  SecureBytes seed(256);
  size_t len = seed.size();
  ok =
      ok && EVP_PKEY_decrypt(ctx, seed.data(), &len, in.data(), in.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return PermissionDenied("TPM refused ActivateCredential: seed");
  return SecureBytes(std::span<const std::uint8_t>(seed.data(), len));
}

}  // namespace

StatusOr<SoftwareEk> NewSoftwareEk() {
  SoftwareEk key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}),
                 EVP_PKEY_free);
  if (!key) return Internal("RSA key generation failed");
  return key;
}

SoftwareTpm::SoftwareTpm(SoftwareEk ek)
    : magic(TPM2_GENERATED_VALUE),
      attest_type(TPM2_ST_ATTEST_QUOTE),
      ek_(std::move(ek)) {
  if (ek_) ek_public_ = EkPublicArea(ek_.get());
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
  if (!ek_) return FailedPrecondition("software TPM has no EK");
  return ek_public_;
}
StatusOr<std::vector<std::uint8_t>> SoftwareTpm::AkPublic() {
  return ak_public_;
}
// TPM 2.0 Part 1, 24.6 (credential protection), from the TPM's side: the
// seed is decrypted with the EK, then the integrity HMAC over the encrypted
// credential and the AK's name is checked before the credential is
// decrypted, so a credential made for another key's name is refused.
StatusOr<SecureBytes> SoftwareTpm::ActivateCredential(
    const CredentialChallenge& challenge) {
  if (!ek_) return FailedPrecondition("software TPM has no EK");
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  TVD_RETURN_IF_ERROR(UnmarshalChallenge(challenge, &blob, &secret));
  TVD_ASSIGN_OR_RETURN(
      SecureBytes seed,
      OaepDecryptSeed(ek_.get(), std::span<const std::uint8_t>(secret.secret,
                                                               secret.size)));
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> name,
                       TpmObjectName(ak_public_));
  // blob: u16 size (32) || integrity HMAC || encrypted credential
  std::span<const std::uint8_t> body(blob.credential, blob.size);
  if (body.size() < 2 + 32 + 2 || body[0] != 0 || body[1] != 32) {
    return PermissionDenied("TPM refused ActivateCredential: blob size");
  }
  std::span<const std::uint8_t> hmac = body.subspan(2, 32);
  std::span<const std::uint8_t> enc = body.subspan(34);
  SecureBytes hmac_key = KdfaSha256(seed.view(), "INTEGRITY", {}, {}, 256);
  std::vector<std::uint8_t> mac_input(enc.begin(), enc.end());
  mac_input.insert(mac_input.end(), name.begin(), name.end());
  std::uint8_t expected[32];
  size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, hmac_key.data(),
                hmac_key.size(), mac_input.data(), mac_input.size(), expected,
                sizeof expected, &mac_len) == nullptr ||
      mac_len != 32 || CRYPTO_memcmp(expected, hmac.data(), 32) != 0) {
    return PermissionDenied("TPM refused ActivateCredential: integrity");
  }
  SecureBytes sym_key = KdfaSha256(seed.view(), "STORAGE", name, {}, 128);
  SecureBytes plain(enc.size());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  unsigned char iv[16] = {};
  int out_len = 0;
  int final_len = 0;
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex2(ctx, EVP_aes_128_cfb128(), sym_key.data(), iv,
                                nullptr) == 1 &&
            EVP_DecryptUpdate(ctx, plain.data(), &out_len, enc.data(),
                              static_cast<int>(enc.size())) == 1 &&
            EVP_DecryptFinal_ex(ctx, plain.data() + out_len, &final_len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return Internal("AES-128-CFB decryption failed");
  std::size_t size = (std::size_t{plain.data()[0]} << 8) | plain.data()[1];
  if (size + 2 != plain.size()) {
    return PermissionDenied("TPM refused ActivateCredential: credential size");
  }
  return SecureBytes(std::span<const std::uint8_t>(plain.data() + 2, size));
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
