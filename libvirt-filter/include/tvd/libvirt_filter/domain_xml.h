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

// The emulator libvirt's QEMU driver picks on a Debian x86_64 host.
inline constexpr char kDefaultEmulator[] = "/usr/bin/qemu-system-x86_64";

// Which graphical console a tenant's domains may have.
enum class GraphicsPolicy {
  kNone,   // no <graphics> at all (the default)
  kVnc,    // VNC only, listening on loopback with an automatic port
  kSpice,  // SPICE only, likewise (and the spicevmc channel/USB redirection)
};

// "none", "vnc", "spice".
std::string_view GraphicsPolicyName(GraphicsPolicy policy);
// The policy named `name`; InvalidArgument "graphics: 'X' is not one of
// none, vnc, spice" otherwise.
StatusOr<GraphicsPolicy> ParseGraphicsPolicy(std::string_view name);

// What the host's relay configuration adds to every tenant's scope.
struct HostConfinement {
  // The only emulator a domain may name, written into every domain the relay
  // forwards. Empty: a tenant may name none and the relay writes none
  // (libvirt then takes its default from the capabilities).
  std::string emulator = kDefaultEmulator;
  GraphicsPolicy graphics = GraphicsPolicy::kNone;
};

// What a tenant's domains may use.
struct TenantScope {
  std::string tvd;  // the TVD name, written as the owner
  // Disk images (and any other file a domain names) must lie under this
  // directory (absolute, no trailing '/').
  std::string storage_path;
  // Names of the TVD's networks (<interface type='network'> sources must be
  // among them).
  std::vector<std::string> networks;
  // See HostConfinement.
  std::string emulator = kDefaultEmulator;
  GraphicsPolicy graphics = GraphicsPolicy::kNone;
  // Other TVDs on the host whose names start with "<tvd>-": their domain
  // names ("<nested>-...") lie inside this TVD's namespace and are refused
  // to this tenant whether or not such a domain exists.
  std::vector<std::string> nested_tvds = {};
  // The TVD policy's per-host quota (empty: none), enforced by QuotaGuard.
  tvd::policy::QuotaLimits quota = {};
  // Its quota in total across hosts (empty: none): QuotaGuard claims each
  // increase from the master (total_quota_claims.h).
  tvd::policy::QuotaLimits total_quota = {};
};

// The owner TVD named by `xml`'s TVD metadata, or "" when it has none.
// InvalidArgument when the XML does not parse or has two TVD elements.
StatusOr<std::string> OwnerFromDomainXml(std::string_view xml);

struct ConfinedDomain {
  std::string xml;  // what the relay forwards (see ConfineDomainXml)
  std::string name;
  std::optional<Uuid> uuid;
};

// Checks a domain definition from a tenant against the relay's allowlist
// (docs/libvirt-filter.md, "What a tenant's domain XML may contain") and
// returns the document the relay forwards instead of the tenant's.
//
// Every element and attribute must be listed for its place in the document
// (its path from <domain>), and every value must pass the rule listed with
// it. Elements libvirt reads once may appear once; device lists are capped.
// Namespaced elements and namespace declarations appear only as opaque
// children of <metadata>.
//
// The forwarded document is the checked tree printed again (comments
// dropped), so libvirtd parses exactly what was checked, with these
// changes:
//   - every TVD metadata element the tenant sent is removed and a fresh
//     <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="<scope.tvd>"/> is written;
//   - <devices><emulator> is set to scope.emulator (added when absent);
//   - every CD-ROM gets <driver name='qemu' type='raw'/> and <readonly/>.
//
// Errors (all PermissionDenied unless noted), PATH being the element path
// such as /domain/devices/serial, or PATH/@attr for an attribute:
//   "PATH: not allowed through the TVD relay"   not on the allowlist
//   "PATH: more than one, libvirt reads only one"
//   "PATH: more than N, the limit through the TVD relay"
//   "PATH: text is not allowed through the TVD relay"
//   "PATH: 'VALUE' WHY"          a value rule, e.g. "/domain/os/kernel:
//                                '/boot/vmlinuz' is outside the TVD storage
//                                /var/lib/tvd/blue"
// InvalidArgument for XML that does not parse, a root that is not
// <domain>, no <name>, or a malformed <uuid>.
StatusOr<ConfinedDomain> ConfineDomainXml(std::string_view xml,
                                          const TenantScope& scope);

// The allowlist as Markdown table rows (one per element, "| path |
// attributes | text | at most | why it cannot reach the host |"), the table
// docs/libvirt-filter.md carries.
std::string DomainXmlAllowlistMarkdown();

// True when `path` is an absolute, normalized path (no '.', '..' or empty
// components) strictly inside directory `root`.
bool IsPathUnder(std::string_view path, std::string_view root);

}  // namespace tvd::libvirt_filter
