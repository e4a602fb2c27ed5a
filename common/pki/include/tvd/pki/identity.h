// Who a certificate speaks for.
//
// Every certificate the VDC CA issues has the subject
//   O=<CA name>, OU=<role>, CN=<name>
// and the identity that policies and registries use is (role, name), printed
// as "role:name" (e.g. "host:node1"). The CA's own name is not part of the
// identity: only one VDC CA is trusted by a deployment.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::pki {

enum class Role { kHost, kAdmin, kTenant };

// "host", "admin", "tenant".
std::string_view RoleName(Role role);

// Inverse of RoleName; InvalidArgument naming the text otherwise.
StatusOr<Role> ParseRole(std::string_view text);

struct Identity {
  Role role = Role::kHost;
  std::string name;

  // "role:name".
  std::string ToString() const;
  friend bool operator==(const Identity&, const Identity&) = default;
};

// True when `name` is usable as an identity and a file name: 1-64 characters
// from [A-Za-z0-9._-], not starting with '.' or '-'.
bool IsValidName(std::string_view name);

// Reads the identity from a certificate's subject. Unauthenticated when the
// subject lacks exactly one OU with a known role or exactly one valid CN.
StatusOr<Identity> IdentityFromCertificate(X509* cert);

}  // namespace tvd::pki
