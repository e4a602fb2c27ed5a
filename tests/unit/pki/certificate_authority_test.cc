#include "tvd/pki/certificate_authority.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tvd/pki/identity.h"

namespace tvd::pki {
namespace {

X509* ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

// X509_V_OK or the verification error of `leaf` against `ca`.
int VerifyAgainst(const std::string& ca_pem, const std::string& leaf_pem) {
  X509* ca = ParseCert(ca_pem);
  X509* leaf = ParseCert(leaf_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  int rc = X509_verify_cert(ctx);
  int err = rc == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(leaf);
  return err;
}

TEST(CertificateAuthorityTest, IssuedCertificateChainsAndCarriesIdentity) {
  auto ca = CreateCa("vdc-test", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto host = IssueCertificate(*ca, Role::kHost, "node1", Validity::ForDays(1));
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_EQ(VerifyAgainst(ca->cert_pem, host->cert_pem), X509_V_OK);

  X509* cert = ParseCert(host->cert_pem);
  auto id = IdentityFromCertificate(cert);
  X509_free(cert);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->ToString(), "host:node1");
}

TEST(CertificateAuthorityTest, CertificateFromOtherCaDoesNotChain) {
  auto ca = CreateCa("vdc-a", Validity::ForDays(1));
  auto other = CreateCa("vdc-b", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok() && other.ok());
  auto admin =
      IssueCertificate(*other, Role::kAdmin, "alice", Validity::ForDays(1));
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(VerifyAgainst(ca->cert_pem, admin->cert_pem),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(CertificateAuthorityTest, ExpiredValidityIsHonoured) {
  auto ca = CreateCa("vdc-test", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok());
  auto now = std::chrono::system_clock::now();
  auto old = IssueCertificate(
      *ca, Role::kTenant, "blue",
      {now - std::chrono::hours(48), now - std::chrono::hours(24)});
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(VerifyAgainst(ca->cert_pem, old->cert_pem),
            X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(CertificateAuthorityTest, RefusesBadNamesAndValidity) {
  auto ca = CreateCa("vdc-test", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok());
  auto bad = IssueCertificate(*ca, Role::kHost, "../etc", Validity::ForDays(1));
  EXPECT_EQ(bad.status(), InvalidArgument("invalid host name '../etc'"));
  auto now = std::chrono::system_clock::now();
  auto inverted = IssueCertificate(*ca, Role::kHost, "n1", {now, now});
  EXPECT_EQ(inverted.status(),
            InvalidArgument("certificate validity ends before it starts"));
  EXPECT_EQ(CreateCa("", Validity::ForDays(1)).status(),
            InvalidArgument("invalid CA name ''"));
}

TEST(CertificateAuthorityTest, RefusesMismatchedCaKey) {
  auto ca = CreateCa("vdc-a", Validity::ForDays(1));
  auto other = CreateCa("vdc-b", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok() && other.ok());
  KeyAndCertificate mixed{other->key_pem.Clone(), ca->cert_pem};
  EXPECT_EQ(
      IssueCertificate(mixed, Role::kHost, "n1", Validity::ForDays(1)).status(),
      InvalidArgument("CA private key does not match CA certificate"));
}

TEST(IdentityTest, RoleNamesRoundTrip) {
  for (Role r : {Role::kHost, Role::kAdmin, Role::kTenant}) {
    auto parsed = ParseRole(RoleName(r));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_EQ(
      ParseRole("root").status(),
      InvalidArgument("unknown role 'root' (expected host, admin or tenant)"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName(".hidden"));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName(std::string(65, 'a')));
  EXPECT_TRUE(IsValidName("node-1.example_2"));
}

TEST(CertificateAuthorityTest, LeafKeyUsageSuitsLibvirtAndSansAreCarried) {
  auto ca = CreateCa("vdc-test", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok());
  auto relay =
      IssueCertificate(*ca, Role::kHost, "relay1", Validity::ForDays(1),
                       {"IP:127.0.0.1", "DNS:relay1.vdc"});
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  X509* cert = ParseCert(relay->cert_pem);
  ASSERT_NE(cert, nullptr);
  std::uint32_t usage = X509_get_key_usage(cert);
  EXPECT_TRUE(usage & KU_DIGITAL_SIGNATURE);
  EXPECT_TRUE(usage & KU_KEY_ENCIPHERMENT);
  EXPECT_FALSE(usage & KU_KEY_CERT_SIGN);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert, "relay1.vdc", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.2", 0), 0);
  X509_free(cert);
  EXPECT_EQ(VerifyAgainst(ca->cert_pem, relay->cert_pem), X509_V_OK);
}

TEST(CertificateAuthorityTest, BadSubjectAltNamesAreRefused) {
  auto ca = CreateCa("vdc-test", Validity::ForDays(1));
  ASSERT_TRUE(ca.ok());
  auto r = IssueCertificate(*ca, Role::kHost, "h", Validity::ForDays(1),
                            {"IP:300.1.1.1"});
  EXPECT_EQ(r.status(), InvalidArgument("subject alternative name "
                                        "'IP:300.1.1.1': not an IPv4 or IPv6 "
                                        "address"));
  EXPECT_EQ(CheckSubjectAltName("DNS:a,IP:1.2.3.4"),
            InvalidArgument("subject alternative name 'DNS:a,IP:1.2.3.4': "
                            "not a host name"));
  EXPECT_EQ(CheckSubjectAltName("email:x@y"),
            InvalidArgument("subject alternative name 'email:x@y' must start "
                            "with DNS: or IP:"));
  EXPECT_TRUE(CheckSubjectAltName("IP:::1").ok());
}

}  // namespace
}  // namespace tvd::pki
