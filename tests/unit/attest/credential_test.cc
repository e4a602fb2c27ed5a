#include "tvd/attest/credential.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "tvd/attest/tpm_public.h"
#include "tvd/testing/software_tpm.h"

namespace tvd::attest {
namespace {

// KDFa is SP 800-108 counter mode with HMAC, a 32-bit counter, a zero byte
// after the label and a 32-bit length: exactly OpenSSL's KBKDF defaults, an
// independent implementation to check ours against.
std::vector<std::uint8_t> OpenSslKbkdf(std::span<const std::uint8_t> key,
                                       const std::string& label,
                                       std::span<const std::uint8_t> context,
                                       std::size_t bytes) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "KBKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC,
                                       const_cast<char*>("HMAC"), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, const_cast<char*>(label.data()), label.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(context.data()),
          context.size()),
      OSSL_PARAM_construct_end()};
  std::vector<std::uint8_t> out(bytes);
  EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return out;
}

TEST(CredentialTest, KdfaMatchesIndependentKbkdf) {
  std::vector<std::uint8_t> seed(32, 0x5a);
  std::vector<std::uint8_t> name = {0x00, 0x0b, 1, 2, 3};
  SecureBytes ours = KdfaSha256(seed, "STORAGE", name, {}, 128);
  auto theirs = OpenSslKbkdf(seed, "STORAGE", name, 16);
  EXPECT_TRUE(ours.Equals(theirs));
  SecureBytes longer = KdfaSha256(seed, "INTEGRITY", {}, {}, 512);
  EXPECT_TRUE(longer.Equals(OpenSslKbkdf(seed, "INTEGRITY", {}, 64)));
}

TEST(CredentialTest, RefusesBadInputs) {
  testing::SoftwareTpm tpm;
  auto ak = tpm.AkPublic();
  ASSERT_TRUE(ak.ok());
  std::vector<std::uint8_t> name(34, 1);
  std::vector<std::uint8_t> secret(16, 2);
  // An AK is not an endorsement key.
  EXPECT_EQ(MakeCredential(*ak, name, secret).status(),
            InvalidArgument("EK is not an RSA-2048 key with SHA-256 nameAlg"));
  EXPECT_EQ(
      MakeCredential(*ak, name, std::vector<std::uint8_t>(33, 1)).status(),
      InvalidArgument("credential must be 1 to 32 bytes"));
  std::vector<std::uint8_t> junk = {0, 5, 1, 2};
  EXPECT_EQ(MakeCredential(junk, name, secret).status(),
            InvalidArgument("TPM public area does not unmarshal"));
}

// The software TPM opens what MakeCredential made for its AK (the benchmark
// enrols thousands of simulated hosts this way), and only that: a
// credential made for another AK's name fails the integrity check, as on a
// real TPM (the integration tests run the same against swtpm).
TEST(CredentialTest, SoftwareTpmActivatesOnlyItsOwnCredential) {
  auto ek = testing::NewSoftwareEk();
  ASSERT_TRUE(ek.ok()) << ek.status();
  testing::SoftwareTpm tpm(*ek);
  testing::SoftwareTpm other(*ek);
  auto ek_public = tpm.EkPublic();
  ASSERT_TRUE(ek_public.ok()) << ek_public.status();
  EXPECT_EQ(CheckEndorsementKey(*ek_public), Status::Ok());
  auto ak = tpm.AkPublic();
  auto other_ak = other.AkPublic();
  ASSERT_TRUE(ak.ok() && other_ak.ok());
  auto name = TpmObjectName(*ak);
  auto other_name = TpmObjectName(*other_ak);
  ASSERT_TRUE(name.ok() && other_name.ok());
  const std::vector<std::uint8_t> secret = {9, 8, 7, 6, 5, 4, 3, 2, 1};

  auto challenge = MakeCredential(*ek_public, *name, secret);
  ASSERT_TRUE(challenge.ok()) << challenge.status();
  auto got = tpm.ActivateCredential(*challenge);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->Equals(secret));

  auto for_other = MakeCredential(*ek_public, *other_name, secret);
  ASSERT_TRUE(for_other.ok());
  EXPECT_EQ(tpm.ActivateCredential(*for_other).status(),
            PermissionDenied("TPM refused ActivateCredential: integrity"));
  EXPECT_EQ(testing::SoftwareTpm().ActivateCredential(*challenge).status(),
            FailedPrecondition("software TPM has no EK"));
  CredentialChallenge cut = *challenge;
  cut.credential_blob.pop_back();
  EXPECT_EQ(tpm.ActivateCredential(cut).status(),
            InvalidArgument("credential blob does not unmarshal"));
  cut = *challenge;
  cut.encrypted_secret.push_back(0);  // a trailing byte
  EXPECT_EQ(tpm.ActivateCredential(cut).status(),
            InvalidArgument("encrypted secret does not unmarshal"));
}

}  // namespace
}  // namespace tvd::attest
