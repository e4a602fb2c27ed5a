// TLS credentials for a test: a certificate of `role` and `name` from `ca`,
// valid for a day.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"

namespace tvd::channel::testing {

inline TlsCredentials IssuedCredentials(const pki::KeyAndCertificate& ca,
                                        pki::Role role,
                                        const std::string& name) {
  auto c = pki::IssueCertificate(ca, role, name, pki::Validity::ForDays(1));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return {ca.cert_pem, c->cert_pem, c->key_pem.Clone()};
}

}  // namespace tvd::channel::testing
