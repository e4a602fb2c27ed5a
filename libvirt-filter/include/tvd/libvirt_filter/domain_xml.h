// Reading and confining libvirt domain XML for the relay.
//
// Ownership lives in the TVD metadata element (local name "tvd" in the
// namespace urn:tvd:vm:1, docs/policy.md section 4) inside <metadata>; its
// `owner` attribute names the TVD. A domain without that element belongs to
// no tenant (only the admin, through libvirtd directly, sees it).
//
// XML from tenants is hostile: it is loaded with tvd::policy::ParseXml (size,
// depth, UTF-8 and DOCTYPE rules) before anything looks at it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/libvirt_filter/xdr.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

// What a tenant's domains may use.
struct TenantScope {
  std::string tvd;  // the TVD name, written as the owner
  // Disk images must lie under this directory (absolute, no trailing '/').
  std::string storage_path;
  // Names of the TVD's networks (libvirt <interface type='network'> sources
  // and tvd:vnet bindings must be among them).
  std::vector<std::string> networks;
  // The TVD policy's per-host quota (empty: none), enforced by QuotaGuard.
  tvd::policy::HostQuota quota;
};

// The owner TVD named by `xml`'s TVD metadata, or "" when it has none.
// InvalidArgument when the XML does not parse or has two TVD elements.
StatusOr<std::string> OwnerFromDomainXml(std::string_view xml);

struct ConfinedDomain {
  std::string xml;  // rewritten: owner forced to scope.tvd
  std::string name;
  std::optional<Uuid> uuid;
};

// Checks a domain definition from a tenant and forces its owner:
//   - no host devices (<hostdev>, <interface type='hostdev'>), no
//     <filesystem> passthrough, no namespace declarations outside
//     <metadata> (so no qemu:commandline or other driver pass-through);
//   - every <disk> is type 'file' (or has no source) with its source file
//     under scope.storage_path;
//   - every <interface> is type 'network' on one of scope.networks, or type
//     'bridge' bound by a <tvd:vnet> to one of scope.networks;
//   - the TVD metadata element is created or its owner replaced by
//     scope.tvd.
// PermissionDenied naming the offending element and value; InvalidArgument
// for XML that does not parse or lacks <name>.
StatusOr<ConfinedDomain> ConfineDomainXml(std::string_view xml,
                                          const TenantScope& scope);

// True when `path` is an absolute, normalized path (no '.', '..' or empty
// components) strictly inside directory `root`.
bool IsPathUnder(std::string_view path, std::string_view root);

}  // namespace tvd::libvirt_filter
