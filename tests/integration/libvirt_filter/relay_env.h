// Shared set-up of the relay integration tests: a private libvirtd (test
// driver, test:///default), a VDC CA, the relay in this process with the
// blue and red TVD policies (owners = the test tenant certificates), client
// pkipath directories for tenants blue, red and green (green owns no TVD),
// and domains defined through libvirtd directly (the admin's view).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "recording_disk_checker.h"
#include "tvd/libvirt_filter/ownership_source.h"
#include "tvd/libvirt_filter/relay_server.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/process.h"
#include "tvd/testing/libvirtd.h"

namespace tvd::libvirt_filter::testing {

inline constexpr char kCaName[] = "test-vdc";

struct RelayEnv {
  std::string dir;  // /tmp/tvd-relay-test-<pid>-XXXXXX
  std::unique_ptr<tvd::testing::LibvirtdInstance> libvirtd;
  pki::KeyAndCertificate ca;
  std::unique_ptr<StaticOwnership> ownership;
  // The daemon's disk image checks, recorded (recording_disk_checker.h).
  RecordingDiskImageChecker disks;
  std::unique_ptr<RelayServer> relay;

  // Starts everything; a failure is returned with its reason.
  // `libvirtd_tls`: libvirtd also listens for TLS itself (libvirtd_tls_port)
  // with a certificate from the same CA (for comparisons).
  // `qemu`: libvirtd runs the QEMU driver (qemu:///system, the fixture's
  // private /etc/libvirt) instead of the test driver, and the tenants'
  // storage root is DIR/storage (DIR/storage/<tvd> made for blue and red).
  static StatusOr<std::unique_ptr<RelayEnv>> Start(RelayOptions options = {},
                                                   bool libvirtd_tls = false,
                                                   bool qemu = false);
  std::uint16_t libvirtd_tls_port = 0;
  bool qemu = false;
  // Where tenant disks must lie: STORAGE_ROOT/<tvd>.
  std::string storage_root = "/var/lib/tvd";
  std::string Storage(const std::string& tvd) const {
    return storage_root + "/" + tvd;
  }
  // libvirtd's own TLS port with tenant's files (no filtering there).
  std::string LibvirtdTlsUri(const std::string& tenant) const;
  ~RelayEnv();

  // "test+tls://127.0.0.1:PORT/default?pkipath=DIR/<tenant>" (with qemu:
  // "qemu+tls://127.0.0.1:PORT/system?pkipath=DIR/<tenant>").
  std::string TenantUri(const std::string& tenant) const;
  std::string PkiDir(const std::string& tenant) const {
    return dir + "/pki-" + tenant;
  }
  // libvirtd directly (the admin).
  std::string AdminUri() const;
  // Runs virsh -c URI ARGS... (30 s limit).
  CommandResult Virsh(const std::string& uri,
                      const std::vector<std::string>& args) const;
  // Writes a domain XML file and returns its path.
  std::string WriteFile(const std::string& name,
                        const std::string& content) const;
};

// A test-driver domain XML: name, optional uuid, optional owner TVD, extra
// XML inside <devices> and at the end of <domain>.
std::string DomainXml(const std::string& name, const std::string& owner,
                      const std::string& uuid = "",
                      const std::string& devices = "",
                      const std::string& extra = "");

}  // namespace tvd::libvirt_filter::testing
