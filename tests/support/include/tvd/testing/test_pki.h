// The PKI of one test: a CA and the certificates it issues, written into
// the test's directory under the names the daemons' config files point at.
// Tests that start real daemons all need the same few files; writing them in
// one place keeps the file modes (keys 0600) the daemons check the same in
// every test.
#pragma once

#include <memory>
#include <string>

#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/status.h"

namespace tvd::testing {

class TestPki {
 public:
  // Creates the CA "vdc-test" (valid for a day) and writes DIR/ca.pem (0644).
  // Errors: the CA's, or IoError naming the file.
  static StatusOr<TestPki> Create(std::string dir);

  // Issues a certificate for `name` in `role` and writes DIR/FILE.pem (0644)
  // and DIR/FILE.key (0600). Returns the key and certificate.
  StatusOr<pki::KeyAndCertificate> Issue(pki::Role role,
                                         const std::string& name,
                                         const std::string& file);

  // A TLS client context presenting `identity`, trusting this CA.
  StatusOr<std::unique_ptr<channel::TlsContext>> ClientTls(
      const pki::KeyAndCertificate& identity) const;

  const pki::KeyAndCertificate& ca() const { return ca_; }
  const std::string& dir() const { return dir_; }

 private:
  TestPki(std::string dir, pki::KeyAndCertificate ca)
      : dir_(std::move(dir)), ca_(std::move(ca)) {}

  std::string dir_;
  pki::KeyAndCertificate ca_;
};

}  // namespace tvd::testing
