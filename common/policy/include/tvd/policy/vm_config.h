// A VM configuration: a libvirt domain XML whose TVD settings live in
// <metadata> under the namespace urn:tvd:vm:1 (libvirt keeps unknown
// elements only there):
//
//   <metadata>
//     <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
//       <tvd:measure type="config" sha256="..."/>
//       <tvd:measure type="kernel" sha256="..."/>
//       <tvd:measure type="disk" target="vda" sha256="..."/>
//       <tvd:encryption type="disk" target="vda"/>
//       <tvd:vnet target="vnet0" network="blue-data"/>
//     </tvd:tvd>
//   </metadata>
//
// Only the parts of the domain the project relies on are modelled here; the
// rest of the domain XML is left to libvirt and kept intact by every tool.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tvd/policy/tvd_policy.h"
#include "tvd/sha256.h"

namespace tvd::policy {

// How a TVD NIC of the VM (by its host-side interface name, libvirt's
// <interface><target dev=.../>) is bound to a TVD network. `network` is
// absent only in templates.
struct VnetBinding {
  std::string target;
  std::optional<std::string> network;
  friend bool operator==(const VnetBinding&, const VnetBinding&) = default;
};

// The TVD settings of one VM.
struct VmMetadata {
  std::string owner;                         // TVD name
  std::vector<Measurement> measures;         // unique (type, target)
  std::vector<std::string> encrypted_disks;  // disk targets, unique
  // Encrypted disks the proxy creates (LUKS qcow2 of this many MiB) when
  // their source file does not exist yet; by disk target.
  std::map<std::string, std::uint64_t> encrypted_disk_create_mib;
  std::vector<VnetBinding> vnets;  // unique targets
  // <tvd:vtpm/>: the proxy gives the VM a vTPM (tpm-crb, swtpm through
  // libvirt) whose state is encrypted with the key the TVD releases.
  bool vtpm = false;
  friend bool operator==(const VmMetadata&, const VmMetadata&) = default;
};

struct DomainDisk {
  std::string target;                      // <target dev=.../>
  std::optional<std::string> source_file;  // <source file=.../>
  friend bool operator==(const DomainDisk&, const DomainDisk&) = default;
};

struct VmConfig {
  // From the libvirt domain body.
  std::string name;
  std::optional<std::string> uuid;
  std::optional<std::string> kernel_path;
  std::optional<std::string> initrd_path;
  std::vector<DomainDisk> disks;
  std::vector<std::string> interface_targets;

  VmMetadata tvd;

  // The canonical form of the domain without the TVD metadata (see
  // canonical.h, CanonicalDomainXml). Its SHA-256 is the "config" measure.
  std::string canonical_domain;

  // True while any measure lacks its sha256 or any vnet its network.
  bool IsTemplate() const;
  // SHA-256 of canonical_domain.
  Sha256Digest ConfigDigest() const;

  const DomainDisk* FindDisk(std::string_view target) const;
  const Measurement* FindMeasure(MeasureType type,
                                 std::string_view target = {}) const;
};

}  // namespace tvd::policy
