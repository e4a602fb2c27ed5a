// Small reads and edits of a domain XML the relay needs around a define or
// a start: the domain's identity (<uuid>), the disk images it names, and
// whether the TVD proxy has admitted it.
//
// Input is loaded with tvd::policy::ParseXml (size, depth, UTF-8 and DOCTYPE
// rules), so these may be given a tenant's XML as well as libvirtd's. Every
// function fails with InvalidArgument when the XML does not parse or its root
// element is not <domain>; none changes anything else than it says.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/libvirt_filter/xdr.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

// `xml` with every <uuid> directly under <domain> removed and, when `uuid`
// is set, one <uuid> with that value put right after <name> (libvirt reads
// the first <uuid>; without one it chooses a random UUID itself).
StatusOr<std::string> WithDomainUuid(std::string_view xml,
                                     const std::optional<Uuid>& uuid);

// One <disk> of a domain, as libvirt will open it.
struct DomainDisk {
  std::string type;    // <disk type>, "file" when absent (libvirt's default)
  std::string device;  // <disk device>, "disk" when absent
  bool has_source = false;  // a <source> element (none: empty CD-ROM)
  std::string file;         // <source file>, "" when absent
  // <driver type>: the image format. "raw" when absent: libvirt no longer
  // probes formats and opens an image without a declared format as raw.
  std::string format;
};

// Every <disk> of every <devices> section (libvirt reads them all), in
// document order.
StatusOr<std::vector<DomainDisk>> DomainDisks(std::string_view xml);

// True when the domain's TVD metadata (urn:tvd:vm:1, under <metadata>) has a
// child whose local name is measure or vnet: only the TVD proxy writes those,
// through the admin's libvirtd, when it admits a VM with a measured
// configuration (the relay never forwards them from a tenant).
StatusOr<bool> HasProxyAdmission(std::string_view xml);

}  // namespace tvd::libvirt_filter
