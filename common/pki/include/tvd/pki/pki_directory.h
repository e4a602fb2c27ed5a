// The on-disk layout of a VDC PKI directory, used by `tvdctl pki`.
//
//   DIR/ca.key             CA private key, mode 0600
//   DIR/ca.crt             CA certificate, mode 0644
//   DIR/<role>-<name>.key  issued private key, mode 0600
//   DIR/<role>-<name>.crt  issued certificate, mode 0644
//
// Nothing is ever overwritten: creating what exists is AlreadyExists and
// leaves the directory as it was.
#pragma once

#include <string>
#include <vector>

#include "tvd/pki/certificate_authority.h"
#include "tvd/pki/identity.h"
#include "tvd/status.h"

namespace tvd::pki {

struct IssuedFiles {
  std::string key_path;
  std::string cert_path;
};

// Creates DIR (mode 0700) if missing and a new CA in it.
StatusOr<IssuedFiles> InitCaDirectory(const std::string& dir,
                                      const std::string& name,
                                      int validity_days = 3650);

// Loads DIR's CA and issues role/name into DIR, with optional subject
// alternative names (see IssueCertificate).
StatusOr<IssuedFiles> IssueIntoDirectory(
    const std::string& dir, Role role, const std::string& name,
    int validity_days = 825,
    const std::vector<std::string>& subject_alt_names = {});

// Loads the CA key and certificate from DIR.
StatusOr<KeyAndCertificate> LoadCa(const std::string& dir);

}  // namespace tvd::pki
