// Deriving a VM configuration from a VM template.
//
// A template is a VM configuration (vm_config.h) whose measures may lack
// their sha256 and whose vnets may lack their network. Derive fills in the
// VM's name (and UUID), the image paths and the network bindings, then
// computes every measure the template lists:
//   config: SHA-256 of the canonical domain without TVD metadata
//           (canonical.h), computed after all other changes;
//   kernel, initrd: SHA-256 of the file at <os><kernel>/<initrd>;
//   disk TARGET: SHA-256 of the file the disk's <source file> names.
// Only the measures the template lists are computed; derive never adds or
// removes measures, disks or interfaces. Existing digests are recomputed.
// The result is checked as a final VM configuration before it is returned.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tvd/policy/vm_config.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::policy {

struct DeriveParams {
  std::string name;                 // the VM (domain) name; required
  std::optional<std::string> uuid;  // absent: a random version-4 UUID
  std::optional<std::string> kernel_path;
  std::optional<std::string> initrd_path;
  // disk target -> image path; the template must have a disk with the target.
  std::vector<std::pair<std::string, std::string>> disks;
  // vnet target -> TVD network; the template must list the vnet.
  std::vector<std::pair<std::string, std::string>> networks;
};

struct DerivedVm {
  std::string xml;  // the complete domain XML
  VmConfig config;  // `xml` parsed as a final VM configuration
};

// Hashes a file; Sha256File in production, a fake in tests if wanted.
using FileHasher = std::function<StatusOr<Sha256Digest>(const std::string&)>;

// Errors: template problems as "FILE:LINE: message"; parameter problems as
// InvalidArgument naming the option ("--disk vdb: the template has no disk
// with target 'vdb'"); unreadable images as the hasher's IoError with the
// measure as context.
StatusOr<DerivedVm> DeriveVm(std::string_view template_xml,
                             std::string_view source,
                             const DeriveParams& params,
                             const FileHasher& hasher = Sha256File);

}  // namespace tvd::policy
