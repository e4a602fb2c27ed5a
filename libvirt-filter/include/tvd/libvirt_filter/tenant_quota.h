// The per-host quota of a TVD (tvd::policy::QuotaLimits, from the TVD policy's
// <quotas><per-host/>) checked against what the TVD already holds on this
// host. Pure: usage is passed in, nothing is read here.
//
// What counts, and when it is checked:
//   - `domains`: every domain of the TVD that libvirtd knows on this host,
//     running or not, persistent or transient. Checked on define
//     (DomainDefineXml/Flags) and DomainCreateXml; a redefinition of a
//     domain the TVD has (same UUID or name) replaces it and adds none.
//   - `disk_gib`: the sizes of the disk images of those domains (qcow2:
//     virtual size, what the guest can fill; raw: the file size), each
//     image counted once per domain that names it. Checked on define and
//     DomainCreateXml.
//   - `vcpus`: the current vCPUs of the TVD's running domains.
//   - `memory_mib`: the memory of the TVD's running domains (the largest of
//     <memory>, <currentMemory> and the NUMA cells' sum: a balloon target
//     is not a bound a hostile guest must keep).
//     vCPUs and memory are checked when a domain starts (DomainCreate,
//     DomainCreateWithFlags, DomainCreateXml): running usage plus this
//     domain must fit. A define whose vCPUs or memory alone exceed the
//     quota is refused at once, since it could never start. A live change
//     (DomainSetVcpus/Flags, DomainSetMemory/Flags, DomainSetMaxMemory)
//     that grows a running domain must fit the running usage; a change of
//     the persistent configuration alone must fit the quota on its own
//     (the start checks the rest). Shrinking is always allowed.
// `reserved` is what calls admitted but not yet answered by libvirtd will
// add (see QuotaGuard), so two concurrent calls cannot both take the last
// unit.
//
// Refusals are ResourceExhausted "quota of TVD <tvd> exceeded: <what> per
// host <limit>, in use <n>, this domain asks for <m>" with memory in MiB
// and disk in GiB (both rounded up), e.g. "quota of TVD blue exceeded:
// vcpus per host 16, in use 14, this domain asks for 4".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tvd/libvirt_filter/xdr.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

// What one domain takes from its TVD's quota.
struct DomainCharge {
  std::string name;
  std::optional<Uuid> uuid;
  bool active = false;           // running (or paused): holds vCPUs/memory
  std::uint64_t vcpus = 0;       // current vCPUs
  std::uint64_t memory_kib = 0;  // see the file comment
  std::uint64_t disk_bytes = 0;  // its disk images
  friend bool operator==(const DomainCharge&, const DomainCharge&) = default;
};

// Amounts added on top of the domains' charges (quota.h).
using tvd::policy::QuotaAmounts;

struct TenantUsage {
  std::vector<DomainCharge> domains;  // the TVD's domains on this host
  QuotaAmounts reserved;
};

// What the TVD holds on this host in the quota's terms: its domains, the
// disks of all of them, the vCPUs and memory of the running ones, plus what
// is reserved.
QuotaAmounts HeldOnHost(const TenantUsage& usage);

// Each Check returns OK with the amounts the change adds (to reserve until
// libvirtd answered), or ResourceExhausted as described above.

// Define of `proposed` (not started). `start` true for DomainCreateXml,
// which also starts it.
StatusOr<QuotaAmounts> CheckDefine(const std::string& tvd,
                                   const tvd::policy::QuotaLimits& quota,
                                   const TenantUsage& usage,
                                   const DomainCharge& proposed, bool start);

// Start of the defined domain `domain` (its persistent configuration). A
// domain already running adds nothing.
StatusOr<QuotaAmounts> CheckStart(const std::string& tvd,
                                  const tvd::policy::QuotaLimits& quota,
                                  const TenantUsage& usage,
                                  const DomainCharge& domain);

// A change of `before` (one of usage.domains) to `after` (same domain, new
// vcpus/memory_kib). `live`: the running domain changes now; otherwise only
// its persistent configuration does.
StatusOr<QuotaAmounts> CheckResize(const std::string& tvd,
                                   const tvd::policy::QuotaLimits& quota,
                                   const TenantUsage& usage,
                                   const DomainCharge& before,
                                   const DomainCharge& after, bool live);

}  // namespace tvd::libvirt_filter
