#include "tvd/pki/certificate_authority.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>

namespace tvd::pki {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using BnPtr = std::unique_ptr<BIGNUM, Free>;

Status CheckValidity(const Validity& v) {
  if (v.not_after <= v.not_before) {
    return InvalidArgument("certificate validity ends before it starts");
  }
  return Status::Ok();
}

StatusOr<KeyPtr> NewKey() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Internal("EC P-256 key generation failed");
  return key;
}

StatusOr<SecureBytes> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return Internal("cannot encode private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecureBytes(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(data), static_cast<size_t>(len)));
}

StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Internal("cannot encode certificate");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return Internal("cannot build certificate extension");
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : Internal("cannot add certificate extension");
}

// A certificate with serial, validity, subject and public key set; the issuer
// name and extensions are the caller's.
StatusOr<CertPtr> NewCertificate(EVP_PKEY* key, const Validity& validity,
                                 const std::string& org, const std::string& ou,
                                 const std::string& cn) {
  CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Internal("cannot allocate certificate");
  }
  BnPtr serial(BN_new());
  if (!serial ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
          nullptr) {
    return Internal("cannot make certificate serial");
  }
  auto to_time_t = [](std::chrono::system_clock::time_point t) {
    return std::chrono::system_clock::to_time_t(t);
  };
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    to_time_t(validity.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    to_time_t(validity.not_after)) == nullptr) {
    return Internal("cannot set certificate validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(
        name, field, MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  };
  if (add("O", org) != 1 || (!ou.empty() && add("OU", ou) != 1) ||
      add("CN", cn) != 1) {
    return Internal("cannot set certificate subject");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return Internal("cannot set certificate key");
  }
  return cert;
}

StatusOr<KeyPtr> ParseKey(const SecureBytes& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgument("CA private key does not parse");
  return key;
}

StatusOr<CertPtr> ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return InvalidArgument("CA certificate does not parse");
  return cert;
}

}  // namespace

Validity Validity::ForDays(int days) {
  auto now = std::chrono::system_clock::now();
  return {now - std::chrono::minutes(5), now + std::chrono::hours(24) * days};
}

StatusOr<KeyAndCertificate> CreateCa(const std::string& name,
                                     const Validity& validity) {
  if (!IsValidName(name)) {
    return InvalidArgument("invalid CA name '" + name + "'");
  }
  TVD_RETURN_IF_ERROR(CheckValidity(validity));
  TVD_ASSIGN_OR_RETURN(KeyPtr key, NewKey());
  TVD_ASSIGN_OR_RETURN(CertPtr cert,
                       NewCertificate(key.get(), validity, name, "", name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) !=
      1) {
    return Internal("cannot set CA issuer");
  }
  TVD_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(),
                                   NID_basic_constraints,
                                   "critical,CA:TRUE,pathlen:0"));
  TVD_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_key_usage,
                                   "critical,keyCertSign,cRLSign"));
  TVD_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Internal("cannot self-sign CA certificate");
  }
  TVD_ASSIGN_OR_RETURN(SecureBytes key_pem, KeyToPem(key.get()));
  TVD_ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(cert.get()));
  return KeyAndCertificate{std::move(key_pem), std::move(cert_pem)};
}

Status CheckSubjectAltName(const std::string& san) {
  if (san.rfind("IP:", 0) == 0) {
    std::string addr = san.substr(3);
    unsigned char buf[16];
    if (inet_pton(AF_INET, addr.c_str(), buf) == 1 ||
        inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
      return Status::Ok();
    }
    return InvalidArgument("subject alternative name '" + san +
                           "': not an IPv4 or IPv6 address");
  }
  if (san.rfind("DNS:", 0) == 0) {
    std::string host = san.substr(4);
    bool ok = !host.empty() && host.size() <= 253 && host.front() != '.' &&
              host.front() != '-' && host.back() != '.';
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' &&
          c != '.') {
        ok = false;
      }
    }
    if (ok) return Status::Ok();
    return InvalidArgument("subject alternative name '" + san +
                           "': not a host name");
  }
  return InvalidArgument("subject alternative name '" + san +
                         "' must start with DNS: or IP:");
}

StatusOr<KeyAndCertificate> IssueCertificate(
    const KeyAndCertificate& ca, Role role, const std::string& name,
    const Validity& validity,
    const std::vector<std::string>& subject_alt_names) {
  if (!IsValidName(name)) {
    return InvalidArgument("invalid " + std::string(RoleName(role)) +
                           " name '" + name + "'");
  }
  for (const std::string& san : subject_alt_names) {
    TVD_RETURN_IF_ERROR(CheckSubjectAltName(san));
  }
  TVD_RETURN_IF_ERROR(CheckValidity(validity));
  TVD_ASSIGN_OR_RETURN(KeyPtr ca_key, ParseKey(ca.key_pem));
  TVD_ASSIGN_OR_RETURN(CertPtr ca_cert, ParseCert(ca.cert_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return InvalidArgument("CA private key does not match CA certificate");
  }
  std::string org;
  {
    X509_NAME* ca_name = X509_get_subject_name(ca_cert.get());
    int idx = X509_NAME_get_index_by_NID(ca_name, NID_organizationName, -1);
    if (idx >= 0) {
      unsigned char* utf8 = nullptr;
      int len = ASN1_STRING_to_UTF8(
          &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(ca_name, idx)));
      if (len > 0) org.assign(reinterpret_cast<char*>(utf8), len);
      OPENSSL_free(utf8);
    }
  }
  TVD_ASSIGN_OR_RETURN(KeyPtr key, NewKey());
  TVD_ASSIGN_OR_RETURN(CertPtr cert,
                       NewCertificate(key.get(), validity, org,
                                      std::string(RoleName(role)), name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) !=
      1) {
    return Internal("cannot set certificate issuer");
  }
  TVD_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(),
                                   NID_basic_constraints, "critical,CA:FALSE"));
  // keyEncipherment means nothing for an EC key in TLS 1.3, but libvirt's
  // certificate checks (and GnuTLS's for a critical keyUsage) refuse a TLS
  // certificate without it, and tenants use these with virsh.
  TVD_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_key_usage,
                   "critical,digitalSignature,keyEncipherment"));
  if (!subject_alt_names.empty()) {
    std::string sans;
    for (const std::string& s : subject_alt_names) {
      sans += (sans.empty() ? "" : ",") + s;
    }
    TVD_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(),
                                     NID_subject_alt_name, sans.c_str()));
  }
  TVD_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                                   "serverAuth,clientAuth"));
  TVD_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(),
                                   NID_authority_key_identifier, "keyid"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return Internal("cannot sign certificate");
  }
  TVD_ASSIGN_OR_RETURN(SecureBytes key_pem, KeyToPem(key.get()));
  TVD_ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(cert.get()));
  return KeyAndCertificate{std::move(key_pem), std::move(cert_pem)};
}

}  // namespace tvd::pki
