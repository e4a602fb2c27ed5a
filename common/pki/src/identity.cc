#include "tvd/pki/identity.h"

#include <openssl/objects.h>

namespace tvd::pki {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kHost:
      return "host";
    case Role::kAdmin:
      return "admin";
    case Role::kTenant:
      return "tenant";
  }
  return "unknown";
}

StatusOr<Role> ParseRole(std::string_view text) {
  if (text == "host") return Role::kHost;
  if (text == "admin") return Role::kAdmin;
  if (text == "tenant") return Role::kTenant;
  return InvalidArgument("unknown role '" + std::string(text) +
                         "' (expected host, admin or tenant)");
}

std::string Identity::ToString() const {
  return std::string(RoleName(role)) + ":" + name;
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {
// The single value of `nid` in `name`, or an error when absent or repeated.
StatusOr<std::string> SingleEntry(X509_NAME* name, int nid, const char* what) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return Unauthenticated(std::string("subject has no ") + what);
  if (X509_NAME_get_index_by_NID(name, nid, index) >= 0) {
    return Unauthenticated(std::string("subject has more than one ") + what);
  }
  ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return Unauthenticated(std::string("unreadable ") + what);
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}
}  // namespace

StatusOr<Identity> IdentityFromCertificate(X509* cert) {
  if (cert == nullptr) return Unauthenticated("no peer certificate");
  X509_NAME* subject = X509_get_subject_name(cert);
  TVD_ASSIGN_OR_RETURN(std::string ou,
                       SingleEntry(subject, NID_organizationalUnitName, "OU"));
  TVD_ASSIGN_OR_RETURN(std::string cn,
                       SingleEntry(subject, NID_commonName, "CN"));
  auto role = ParseRole(ou);
  if (!role.ok()) {
    return Unauthenticated("subject OU '" + ou + "' is not a known role");
  }
  if (!IsValidName(cn)) {
    return Unauthenticated("subject CN is not a valid identity name");
  }
  return Identity{*role, cn};
}

}  // namespace tvd::pki
