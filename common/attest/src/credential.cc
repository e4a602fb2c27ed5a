#include "tvd/attest/credential.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <algorithm>

#include "tvd/attest/credential_structures.h"
#include "tvd/attest/tpm_public.h"

namespace tvd::attest {
namespace {

void PutU32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8)
    out.push_back(static_cast<std::uint8_t>(v >> s));
}

StatusOr<std::vector<std::uint8_t>> HmacSha256(
    std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> out(32);
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(),
                key.size(), data.data(), data.size(), out.data(), out.size(),
                &len) == nullptr ||
      len != 32) {
    return Internal("HMAC-SHA-256 failed");
  }
  return out;
}

}  // namespace

Status UnmarshalChallenge(const CredentialChallenge& challenge,
                          TPM2B_ID_OBJECT* blob,
                          TPM2B_ENCRYPTED_SECRET* secret) {
  size_t off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(challenge.credential_blob.data(),
                                        challenge.credential_blob.size(), &off,
                                        blob) != TSS2_RC_SUCCESS ||
      off != challenge.credential_blob.size()) {
    return InvalidArgument("credential blob does not unmarshal");
  }
  off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(
          challenge.encrypted_secret.data(), challenge.encrypted_secret.size(),
          &off, secret) != TSS2_RC_SUCCESS ||
      off != challenge.encrypted_secret.size()) {
    return InvalidArgument("encrypted secret does not unmarshal");
  }
  return Status::Ok();
}

SecureBytes KdfaSha256(std::span<const std::uint8_t> key,
                       std::string_view label,
                       std::span<const std::uint8_t> context_u,
                       std::span<const std::uint8_t> context_v,
                       std::size_t bits) {
  std::size_t bytes = (bits + 7) / 8;
  SecureBytes out(bytes);
  std::size_t done = 0;
  for (std::uint32_t counter = 1; done < bytes; ++counter) {
    std::vector<std::uint8_t> data;
    PutU32(data, counter);
    data.insert(data.end(), label.begin(), label.end());
    data.push_back(0);
    data.insert(data.end(), context_u.begin(), context_u.end());
    data.insert(data.end(), context_v.begin(), context_v.end());
    PutU32(data, static_cast<std::uint32_t>(bits));
    auto block = HmacSha256(key, data);
    if (!block.ok()) std::abort();  // OpenSSL broken: never use a bad key
    std::size_t n = std::min<std::size_t>(32, bytes - done);
    std::copy_n(block->begin(), n, out.data() + done);
    OPENSSL_cleanse(block->data(), block->size());
    done += n;
  }
  return out;
}

StatusOr<CredentialChallenge> MakeCredential(
    std::span<const std::uint8_t> ek_public,
    std::span<const std::uint8_t> ak_name,
    std::span<const std::uint8_t> credential) {
  if (credential.empty() || credential.size() > 32) {
    return InvalidArgument("credential must be 1 to 32 bytes");
  }
  TVD_RETURN_IF_ERROR(CheckEndorsementKey(ek_public));
  TVD_ASSIGN_OR_RETURN(EvpPkeyPtr ek, PublicKeyFromTpm(ek_public));

  SecureBytes seed = SecureBytes::Random(32);

  // secret = RSA-OAEP(SHA-256, label "IDENTITY\0")(seed)
  std::vector<std::uint8_t> encrypted(512);
  size_t encrypted_len = encrypted.size();
  {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, ek.get(), nullptr);
    static const char kLabel[] = "IDENTITY";  // sizeof includes the NUL
    unsigned char* label =
        static_cast<unsigned char*>(OPENSSL_memdup(kLabel, sizeof kLabel));
    bool ok = ctx != nullptr && label != nullptr &&
              EVP_PKEY_encrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
              EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, sizeof kLabel) == 1;
    if (!ok) OPENSSL_free(label);  // set0 took it only on success
    ok = ok && EVP_PKEY_encrypt(ctx, encrypted.data(), &encrypted_len,
                                seed.data(), seed.size()) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok)
      return Internal("RSA-OAEP encryption of the credential seed failed");
  }
  encrypted.resize(encrypted_len);

  // encCred = AES-128-CFB(KDFa(seed, "STORAGE", name), TPM2B_DIGEST(cred))
  SecureBytes sym_key = KdfaSha256(seed.view(), "STORAGE", ak_name, {}, 128);
  std::vector<std::uint8_t> plain;
  plain.push_back(static_cast<std::uint8_t>(credential.size() >> 8));
  plain.push_back(static_cast<std::uint8_t>(credential.size()));
  plain.insert(plain.end(), credential.begin(), credential.end());
  std::vector<std::uint8_t> enc_cred(plain.size());
  {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    unsigned char iv[16] = {};
    int out_len = 0;
    int final_len = 0;
    bool ok =
        ctx != nullptr &&
        EVP_EncryptInit_ex2(ctx, EVP_aes_128_cfb128(), sym_key.data(), iv,
                            nullptr) == 1 &&
        EVP_EncryptUpdate(ctx, enc_cred.data(), &out_len, plain.data(),
                          static_cast<int>(plain.size())) == 1 &&
        EVP_EncryptFinal_ex(ctx, enc_cred.data() + out_len, &final_len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!ok) return Internal("AES-128-CFB encryption of the credential failed");
  }

  // hmac = HMAC(KDFa(seed, "INTEGRITY"), encCred || name)
  SecureBytes hmac_key = KdfaSha256(seed.view(), "INTEGRITY", {}, {}, 256);
  std::vector<std::uint8_t> mac_input = enc_cred;
  mac_input.insert(mac_input.end(), ak_name.begin(), ak_name.end());
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> hmac,
                       HmacSha256(hmac_key.view(), mac_input));

  TPM2B_ID_OBJECT id{};
  std::vector<std::uint8_t> body;
  body.push_back(0);
  body.push_back(32);
  body.insert(body.end(), hmac.begin(), hmac.end());
  body.insert(body.end(), enc_cred.begin(), enc_cred.end());
  if (body.size() > sizeof id.credential) return Internal("credential too big");
  id.size = static_cast<UINT16>(body.size());
  std::copy(body.begin(), body.end(), id.credential);

  TPM2B_ENCRYPTED_SECRET secret{};
  if (encrypted.size() > sizeof secret.secret) {
    return Internal("encrypted seed too big");
  }
  secret.size = static_cast<UINT16>(encrypted.size());
  std::copy(encrypted.begin(), encrypted.end(), secret.secret);

  CredentialChallenge out;
  out.credential_blob.resize(sizeof id);
  out.encrypted_secret.resize(sizeof secret);
  size_t off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, out.credential_blob.data(),
                                      out.credential_blob.size(),
                                      &off) != TSS2_RC_SUCCESS) {
    return Internal("cannot marshal credential blob");
  }
  out.credential_blob.resize(off);
  off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(
          &secret, out.encrypted_secret.data(), out.encrypted_secret.size(),
          &off) != TSS2_RC_SUCCESS) {
    return Internal("cannot marshal encrypted secret");
  }
  out.encrypted_secret.resize(off);
  return out;
}

}  // namespace tvd::attest
