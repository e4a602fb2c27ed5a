// The relay's look at a tenant's disk images before libvirt may open them.
//
// libvirt and QEMU follow a qcow2 image's backing chain by the file names
// written in the image headers, not by anything in the domain XML. A tenant
// who could get a header to name a host file (/etc/shadow, another TVD's
// disk) would have QEMU open it, and libvirt's DAC driver relabel it. So
// before a tenant's domain is defined or started, every disk image it names
// is read here and its whole chain must stay inside the TVD's storage.
#pragma once

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::libvirt_filter {

class DiskImageChecker {
 public:
  virtual ~DiskImageChecker() = default;

  // Checks the image at `path`, declared in the domain XML with `format`
  // ("qcow2" or "raw"), against `storage_path` (the TVD's storage directory,
  // absolute). OK when the file is a regular file inside storage_path and,
  // for qcow2, every backing file of its chain is too (relative names are
  // resolved against the image's directory), the chain is not longer than
  // the implementation's bound and has no loop. A path that does not exist
  // is OK (libvirt reports it at start; a cdrom may be empty).
  // PermissionDenied "<path>: <why>" for a chain that leaves the storage or
  // a header naming a backing file of a format other than qcow2/raw;
  // InvalidArgument "<path>: <why>" for a header that does not parse.
  virtual Status Check(const std::string& path, std::string_view format,
                       const std::string& storage_path) = 0;
};

}  // namespace tvd::libvirt_filter
