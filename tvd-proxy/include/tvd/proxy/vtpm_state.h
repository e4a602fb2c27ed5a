// The vTPM state of a TVD VM on this host (issue 16; docs/host.md "vTPMs").
//
// libvirt keeps a domain's swtpm state in <swtpm storage dir>/<uuid>/tpm2
// (/var/lib/libvirt/swtpm by default) and runs swtpm_setup itself only when
// that directory does not exist yet. The proxy creates the state there
// itself, before the first start: a fresh TPM 2.0 whose state swtpm
// encrypts with the VM's vTPM passphrase (the same value the domain's
// libvirt secret holds, so libvirt's swtpm opens it), and reads the EK and
// the AK (attest/vtpm_ak_template.h, the one the guest quote tool
// re-creates) from it on a private swtpm. So the proxy learns the vTPM's keys before the guest ever
// runs, and records them at the master before starting the VM. libvirt
// makes the state directory (0700) and its files its swtpm user's on
// start, and removes the domain's directory (0711, like the storage
// directory) when the domain is undefined.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::proxy {

// Marshalled TPM2B_PUBLIC areas of a new vTPM.
struct VtpmPublics {
  std::vector<std::uint8_t> ek_public;
  std::vector<std::uint8_t> ak_public;
};

class VtpmStates {
 public:
  virtual ~VtpmStates() = default;
  // Creates the state of domain `uuid` (lower-case 8-4-4-4-12) encrypted
  // with `passphrase` and returns its public keys. On failure nothing of it
  // is left.
  //   InvalidArgument "not a domain UUID: 'X'";
  //   AlreadyExists "vTPM state of domain UUID already exists (DIR)";
  //   IoError creating the directory; Unavailable when swtpm or the TPM
  //   does not answer.
  virtual StatusOr<VtpmPublics> Create(const std::string& uuid,
                                       const SecureBytes& passphrase) = 0;
  // Removes the state of domain `uuid` (its whole <uuid> directory) and
  // checks that it is gone. OK when there was none.
  //   InvalidArgument "not a domain UUID: 'X'"; IoError when it stays.
  virtual Status Remove(const std::string& uuid) = 0;
  // Whether domain `uuid` has a state directory.
  virtual bool Exists(const std::string& uuid) = 0;
};

// The real one: swtpm (attest/swtpm_process.h) on `storage_dir`, libvirt's
// swtpm storage directory as this process sees it.
class SwtpmVtpmStates : public VtpmStates {
 public:
  explicit SwtpmVtpmStates(std::string storage_dir)
      : storage_dir_(std::move(storage_dir)) {}
  StatusOr<VtpmPublics> Create(const std::string& uuid,
                               const SecureBytes& passphrase) override;
  Status Remove(const std::string& uuid) override;
  bool Exists(const std::string& uuid) override;

  // <storage_dir>/<uuid>/tpm2: where libvirt's swtpm keeps the state.
  std::string StateDir(const std::string& uuid) const;

 private:
  std::string storage_dir_;
};

}  // namespace tvd::proxy
