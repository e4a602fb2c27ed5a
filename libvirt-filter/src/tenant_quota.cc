#include "tvd/libvirt_filter/tenant_quota.h"

#include <limits>

namespace tvd::libvirt_filter {

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// Charges come from tenant-written XML: sums saturate instead of wrapping.
std::uint64_t Add(std::uint64_t a, std::uint64_t b) {
  return a > kMax - b ? kMax : a + b;
}
std::uint64_t Sub(std::uint64_t a, std::uint64_t b) {
  return a > b ? a - b : 0;
}

struct Totals {
  std::uint64_t domains = 0;
  std::uint64_t disk_bytes = 0;
  std::uint64_t running_vcpus = 0;
  std::uint64_t running_memory_kib = 0;
};

Totals Sum(const TenantUsage& usage) {
  Totals t;
  t.domains = Add(usage.domains.size(), usage.reserved.domains);
  t.disk_bytes = usage.reserved.disk_bytes;
  t.running_vcpus = usage.reserved.vcpus;
  t.running_memory_kib = usage.reserved.memory_kib;
  for (const DomainCharge& d : usage.domains) {
    t.disk_bytes = Add(t.disk_bytes, d.disk_bytes);
    if (!d.active) continue;
    t.running_vcpus = Add(t.running_vcpus, d.vcpus);
    t.running_memory_kib = Add(t.running_memory_kib, d.memory_kib);
  }
  return t;
}

// One kind of quota: its name in messages, its limit in the unit the
// charges use, and how to print an amount.
struct Kind {
  const char* what;
  std::uint64_t limit;
  std::uint64_t divisor;  // amount / divisor (rounded up) is printed
  const char* unit;       // "" or " MiB" / " GiB"
  std::string Print(std::uint64_t amount) const {
    return std::to_string(amount / divisor + (amount % divisor != 0 ? 1 : 0)) +
           unit;
  }
};

std::optional<Kind> DomainsKind(const tvd::policy::HostQuota& q) {
  if (!q.domains) return std::nullopt;
  return Kind{"domains", *q.domains, 1, ""};
}
std::optional<Kind> VcpusKind(const tvd::policy::HostQuota& q) {
  if (!q.vcpus) return std::nullopt;
  return Kind{"vcpus", *q.vcpus, 1, ""};
}
std::optional<Kind> MemoryKind(const tvd::policy::HostQuota& q) {
  if (!q.memory_mib) return std::nullopt;
  return Kind{"memory", *q.memory_mib * 1024, 1024, " MiB"};
}
std::optional<Kind> DiskKind(const tvd::policy::HostQuota& q) {
  if (!q.disk_gib) return std::nullopt;
  return Kind{"disk", *q.disk_gib << 30, std::uint64_t{1} << 30, " GiB"};
}

// OK when `in_use` + `asks` fits `kind` (or there is no such quota).
Status Fits(const std::string& tvd, const std::optional<Kind>& kind,
            std::uint64_t in_use, std::uint64_t asks) {
  if (!kind || Add(in_use, asks) <= kind->limit) return Status::Ok();
  return ResourceExhausted("quota of TVD " + tvd + " exceeded: " + kind->what +
                           " per host " + kind->Print(kind->limit) +
                           ", in use " + kind->Print(in_use) +
                           ", this domain asks for " + kind->Print(asks));
}

// OK when `asks` alone fits `kind`: a domain larger than the whole quota
// could never start.
Status FitsAlone(const std::string& tvd, const std::optional<Kind>& kind,
                 std::uint64_t asks) {
  if (!kind || asks <= kind->limit) return Status::Ok();
  return ResourceExhausted("quota of TVD " + tvd + " exceeded: " + kind->what +
                           " per host " + kind->Print(kind->limit) +
                           ", this domain alone asks for " + kind->Print(asks));
}

// The domain `proposed` replaces: same UUID, else same name.
const DomainCharge* Existing(const TenantUsage& usage,
                             const DomainCharge& proposed) {
  for (const DomainCharge& d : usage.domains) {
    if (proposed.uuid && d.uuid == proposed.uuid) return &d;
  }
  for (const DomainCharge& d : usage.domains) {
    if (d.name == proposed.name) return &d;
  }
  return nullptr;
}

}  // namespace

QuotaAmounts& QuotaAmounts::operator+=(const QuotaAmounts& o) {
  domains = Add(domains, o.domains);
  vcpus = Add(vcpus, o.vcpus);
  memory_kib = Add(memory_kib, o.memory_kib);
  disk_bytes = Add(disk_bytes, o.disk_bytes);
  return *this;
}

StatusOr<QuotaAmounts> CheckDefine(const std::string& tvd,
                                   const tvd::policy::HostQuota& quota,
                                   const TenantUsage& usage,
                                   const DomainCharge& proposed, bool start) {
  const Totals t = Sum(usage);
  const DomainCharge* old = Existing(usage, proposed);
  QuotaAmounts adds;
  if (old == nullptr) {
    adds.domains = 1;
    TVD_RETURN_IF_ERROR(Fits(tvd, DomainsKind(quota), t.domains, 1));
  }
  const std::uint64_t old_disk = old != nullptr ? old->disk_bytes : 0;
  if (proposed.disk_bytes > old_disk) {
    adds.disk_bytes = proposed.disk_bytes - old_disk;
    TVD_RETURN_IF_ERROR(Fits(tvd, DiskKind(quota), Sub(t.disk_bytes, old_disk),
                             proposed.disk_bytes));
  }
  TVD_RETURN_IF_ERROR(FitsAlone(tvd, VcpusKind(quota), proposed.vcpus));
  TVD_RETURN_IF_ERROR(FitsAlone(tvd, MemoryKind(quota), proposed.memory_kib));
  if (start) {
    DomainCharge stopped = proposed;
    stopped.active = false;
    TVD_ASSIGN_OR_RETURN(QuotaAmounts run,
                         CheckStart(tvd, quota, usage, stopped));
    adds += run;
  }
  return adds;
}

StatusOr<QuotaAmounts> CheckStart(const std::string& tvd,
                                  const tvd::policy::HostQuota& quota,
                                  const TenantUsage& usage,
                                  const DomainCharge& domain) {
  if (domain.active) return QuotaAmounts{};
  const Totals t = Sum(usage);
  TVD_RETURN_IF_ERROR(
      Fits(tvd, VcpusKind(quota), t.running_vcpus, domain.vcpus));
  TVD_RETURN_IF_ERROR(
      Fits(tvd, MemoryKind(quota), t.running_memory_kib, domain.memory_kib));
  QuotaAmounts adds;
  adds.vcpus = domain.vcpus;
  adds.memory_kib = domain.memory_kib;
  return adds;
}

StatusOr<QuotaAmounts> CheckResize(const std::string& tvd,
                                   const tvd::policy::HostQuota& quota,
                                   const TenantUsage& usage,
                                   const DomainCharge& before,
                                   const DomainCharge& after, bool live) {
  QuotaAmounts adds;
  if (!live || !before.active) {
    if (after.vcpus > before.vcpus) {
      TVD_RETURN_IF_ERROR(FitsAlone(tvd, VcpusKind(quota), after.vcpus));
    }
    if (after.memory_kib > before.memory_kib) {
      TVD_RETURN_IF_ERROR(FitsAlone(tvd, MemoryKind(quota), after.memory_kib));
    }
    return adds;
  }
  const Totals t = Sum(usage);
  if (after.vcpus > before.vcpus) {
    TVD_RETURN_IF_ERROR(Fits(tvd, VcpusKind(quota),
                             Sub(t.running_vcpus, before.vcpus), after.vcpus));
    adds.vcpus = after.vcpus - before.vcpus;
  }
  if (after.memory_kib > before.memory_kib) {
    TVD_RETURN_IF_ERROR(Fits(tvd, MemoryKind(quota),
                             Sub(t.running_memory_kib, before.memory_kib),
                             after.memory_kib));
    adds.memory_kib = after.memory_kib - before.memory_kib;
  }
  return adds;
}

}  // namespace tvd::libvirt_filter
