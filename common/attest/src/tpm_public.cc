#include "tvd/attest/tpm_public.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <tss2/tss2_mu.h>

#include "tvd/sha256.h"

namespace tvd::attest {
namespace {

StatusOr<TPM2B_PUBLIC> Unmarshal(std::span<const std::uint8_t> in) {
  TPM2B_PUBLIC pub{};
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(in.data(), in.size(), &offset, &pub) !=
          TSS2_RC_SUCCESS ||
      offset != in.size()) {
    return InvalidArgument("TPM public area does not unmarshal");
  }
  return pub;
}

}  // namespace

StatusOr<std::vector<std::uint8_t>> TpmObjectName(
    std::span<const std::uint8_t> tpm2b_public) {
  TVD_ASSIGN_OR_RETURN(TPM2B_PUBLIC pub, Unmarshal(tpm2b_public));
  if (pub.publicArea.nameAlg != TPM2_ALG_SHA256) {
    return InvalidArgument("TPM public area nameAlg is not SHA-256");
  }
  // The TPMT_PUBLIC follows the u16 size of the TPM2B.
  Sha256Digest digest = Sha256(tpm2b_public.subspan(2));
  std::vector<std::uint8_t> name = {0x00, 0x0b};
  name.insert(name.end(), digest.begin(), digest.end());
  return name;
}

Status CheckAttestationKey(std::span<const std::uint8_t> ak_public) {
  TVD_ASSIGN_OR_RETURN(TPM2B_PUBLIC pub, Unmarshal(ak_public));
  const TPMT_PUBLIC& p = pub.publicArea;
  if (p.nameAlg != TPM2_ALG_SHA256) {
    return InvalidArgument("AK nameAlg is not SHA-256");
  }
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                           TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                           TPMA_OBJECT_SENSITIVEDATAORIGIN;
  if ((p.objectAttributes & need) != need) {
    return InvalidArgument(
        "AK is not a restricted, TPM-generated, non-duplicable signing key");
  }
  if (p.objectAttributes & TPMA_OBJECT_DECRYPT) {
    return InvalidArgument("AK must not be a decryption key");
  }
  if (p.type == TPM2_ALG_RSA) {
    if (p.parameters.rsaDetail.keyBits != 2048 ||
        p.parameters.rsaDetail.scheme.scheme != TPM2_ALG_RSASSA ||
        p.parameters.rsaDetail.scheme.details.rsassa.hashAlg !=
            TPM2_ALG_SHA256) {
      return InvalidArgument("RSA AK must be 2048-bit RSASSA-SHA256");
    }
  } else if (p.type == TPM2_ALG_ECC) {
    if (p.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
        p.parameters.eccDetail.scheme.scheme != TPM2_ALG_ECDSA ||
        p.parameters.eccDetail.scheme.details.ecdsa.hashAlg !=
            TPM2_ALG_SHA256) {
      return InvalidArgument("ECC AK must be P-256 ECDSA-SHA256");
    }
  } else {
    return InvalidArgument("AK is neither RSA nor ECC");
  }
  return Status::Ok();
}

Status CheckEndorsementKey(std::span<const std::uint8_t> ek_public) {
  TVD_ASSIGN_OR_RETURN(TPM2B_PUBLIC pub, Unmarshal(ek_public));
  const TPMT_PUBLIC& p = pub.publicArea;
  if (p.type != TPM2_ALG_RSA || p.nameAlg != TPM2_ALG_SHA256 ||
      p.parameters.rsaDetail.keyBits != 2048) {
    return InvalidArgument("EK is not an RSA-2048 key with SHA-256 nameAlg");
  }
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                           TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
  if ((p.objectAttributes & need) != need ||
      (p.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
    return InvalidArgument("EK is not a restricted decryption key");
  }
  const TPMT_SYM_DEF_OBJECT& sym = p.parameters.rsaDetail.symmetric;
  if (sym.algorithm != TPM2_ALG_AES || sym.keyBits.aes != 128 ||
      sym.mode.aes != TPM2_ALG_CFB) {
    return InvalidArgument("EK symmetric parameters are not AES-128-CFB");
  }
  return Status::Ok();
}

StatusOr<EvpPkeyPtr> PublicKeyFromTpm(
    std::span<const std::uint8_t> tpm2b_public) {
  TVD_ASSIGN_OR_RETURN(TPM2B_PUBLIC pub, Unmarshal(tpm2b_public));
  const TPMT_PUBLIC& p = pub.publicArea;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return Internal("out of memory");
  EVP_PKEY* key = nullptr;
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  const char* type = nullptr;
  std::vector<std::uint8_t> point;
  bool ok = true;
  if (p.type == TPM2_ALG_RSA) {
    type = "RSA";
    n = BN_bin2bn(p.unique.rsa.buffer, p.unique.rsa.size, nullptr);
    std::uint32_t exponent = p.parameters.rsaDetail.exponent == 0
                                 ? 65537
                                 : p.parameters.rsaDetail.exponent;
    e = BN_new();
    ok = n != nullptr && e != nullptr && BN_set_word(e, exponent) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1;
  } else if (p.type == TPM2_ALG_ECC &&
             p.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256) {
    type = "EC";
    const auto& x = p.unique.ecc.x;
    const auto& y = p.unique.ecc.y;
    if (x.size > 32 || y.size > 32) {
      ok = false;
    } else {
      point.assign(65, 0);
      point[0] = 0x04;
      std::copy(x.buffer, x.buffer + x.size, point.begin() + 1 + (32 - x.size));
      std::copy(y.buffer, y.buffer + y.size,
                point.begin() + 33 + (32 - y.size));
      ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           "prime256v1", 0) == 1 &&
           OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point.data(), point.size()) == 1;
    }
  } else {
    OSSL_PARAM_BLD_free(bld);
    return InvalidArgument("TPM key is neither RSA nor ECC P-256");
  }
  OSSL_PARAM* params = ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr;
  EVP_PKEY_CTX* ctx = params != nullptr
                          ? EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr)
                          : nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  if (key == nullptr) return InvalidArgument("TPM public key is not valid");
  return EvpPkeyPtr(key);
}

}  // namespace tvd::attest
