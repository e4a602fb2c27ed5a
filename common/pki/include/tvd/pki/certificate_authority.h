// The VDC certificate authority, in memory.
//
// Keys are ECDSA P-256 made with OpenSSL 3's EVP interface; certificates are
// X.509 v3 signed with SHA-256. Private keys leave these functions only as
// PEM inside tvd::SecureBytes (wiped on release); nothing here touches disk
// (see pki_directory.h for that).
//
// The CA certificate has basicConstraints CA:TRUE (critical, pathlen 0) and
// keyUsage keyCertSign|cRLSign. Issued certificates have CA:FALSE, keyUsage
// digitalSignature and extendedKeyUsage serverAuth+clientAuth (the master and
// hosts both accept and open trusted channels), a random 128-bit serial, and
// the subject described in identity.h.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tvd/pki/identity.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::pki {

struct Validity {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;

  // From now (minus five minutes, for clock skew between hosts) for `days`.
  static Validity ForDays(int days);
};

struct KeyAndCertificate {
  SecureBytes key_pem;   // PKCS#8 PEM private key
  std::string cert_pem;  // X.509 PEM certificate

  KeyAndCertificate Clone() const { return {key_pem.Clone(), cert_pem}; }
};

// A self-signed CA named `name` (subject O=name, CN=name). InvalidArgument
// for an invalid name (identity.h) or an empty/inverted validity.
StatusOr<KeyAndCertificate> CreateCa(const std::string& name,
                                     const Validity& validity);

// A certificate for `role`/`name` signed by `ca`, with subject alternative
// names `subject_alt_names` ("DNS:name" or "IP:address", e.g. the addresses a
// relay or master is reached at, which TLS clients such as libvirt's match).
// InvalidArgument for an invalid name, validity or alternative name, or when
// `ca` does not parse; Internal if OpenSSL fails to sign.
StatusOr<KeyAndCertificate> IssueCertificate(
    const KeyAndCertificate& ca, Role role, const std::string& name,
    const Validity& validity,
    const std::vector<std::string>& subject_alt_names = {});

// OK when `san` is "DNS:<hostname>" or "IP:<IPv4 or IPv6 address>".
Status CheckSubjectAltName(const std::string& san);

}  // namespace tvd::pki
