#include "tvd/libvirt_filter/tenant_quota.h"

#include <limits>

namespace tvd::libvirt_filter {

namespace {

using tvd::policy::FlooredSub;
using tvd::policy::LimitOf;
using tvd::policy::QuotaExceeded;
using tvd::policy::QuotaKind;
using tvd::policy::QuotaLimits;
using tvd::policy::QuotaScope;
using tvd::policy::SaturatingAdd;

// OK when `in_use` + `asks` fits the per-host limit of `kind` (or there is
// none).
Status Fits(const std::string& tvd, const QuotaLimits& quota, QuotaKind kind,
            std::uint64_t in_use, std::uint64_t asks) {
  const std::optional<std::uint64_t> limit = LimitOf(quota, kind);
  if (!limit || SaturatingAdd(in_use, asks) <= *limit) return Status::Ok();
  return QuotaExceeded(tvd, kind, QuotaScope::kPerHost, *limit, in_use, asks);
}

// OK when `asks` alone fits `kind`: a domain larger than the whole quota
// could never start.
Status FitsAlone(const std::string& tvd, const QuotaLimits& quota,
                 QuotaKind kind, std::uint64_t asks) {
  const std::optional<std::uint64_t> limit = LimitOf(quota, kind);
  if (!limit || asks <= *limit) return Status::Ok();
  return tvd::policy::QuotaExceededAlone(
      tvd, kind, tvd::policy::QuotaScope::kPerHost, *limit, asks);
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

QuotaAmounts HeldOnHost(const TenantUsage& usage) {
  QuotaAmounts held = usage.reserved;
  held.domains = SaturatingAdd(held.domains, usage.domains.size());
  for (const DomainCharge& d : usage.domains) {
    held.disk_bytes = SaturatingAdd(held.disk_bytes, d.disk_bytes);
    if (!d.active) continue;
    held.vcpus = SaturatingAdd(held.vcpus, d.vcpus);
    held.memory_kib = SaturatingAdd(held.memory_kib, d.memory_kib);
  }
  return held;
}

StatusOr<QuotaAmounts> CheckDefine(const std::string& tvd,
                                   const tvd::policy::QuotaLimits& quota,
                                   const TenantUsage& usage,
                                   const DomainCharge& proposed, bool start) {
  const QuotaAmounts t = HeldOnHost(usage);
  const DomainCharge* old = Existing(usage, proposed);
  QuotaAmounts adds;
  if (old == nullptr) {
    adds.domains = 1;
    TVD_RETURN_IF_ERROR(Fits(tvd, quota, QuotaKind::kDomains, t.domains, 1));
  }
  const std::uint64_t old_disk = old != nullptr ? old->disk_bytes : 0;
  if (proposed.disk_bytes > old_disk) {
    adds.disk_bytes = proposed.disk_bytes - old_disk;
    TVD_RETURN_IF_ERROR(Fits(tvd, quota, QuotaKind::kDisk,
                             FlooredSub(t.disk_bytes, old_disk),
                             proposed.disk_bytes));
  }
  TVD_RETURN_IF_ERROR(FitsAlone(tvd, quota, QuotaKind::kVcpus, proposed.vcpus));
  TVD_RETURN_IF_ERROR(
      FitsAlone(tvd, quota, QuotaKind::kMemory, proposed.memory_kib));
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
                                  const tvd::policy::QuotaLimits& quota,
                                  const TenantUsage& usage,
                                  const DomainCharge& domain) {
  if (domain.active) return QuotaAmounts{};
  const QuotaAmounts t = HeldOnHost(usage);
  TVD_RETURN_IF_ERROR(
      Fits(tvd, quota, QuotaKind::kVcpus, t.vcpus, domain.vcpus));
  TVD_RETURN_IF_ERROR(
      Fits(tvd, quota, QuotaKind::kMemory, t.memory_kib, domain.memory_kib));
  QuotaAmounts adds;
  adds.vcpus = domain.vcpus;
  adds.memory_kib = domain.memory_kib;
  return adds;
}

StatusOr<QuotaAmounts> CheckResize(const std::string& tvd,
                                   const tvd::policy::QuotaLimits& quota,
                                   const TenantUsage& usage,
                                   const DomainCharge& before,
                                   const DomainCharge& after, bool live) {
  QuotaAmounts adds;
  if (!live || !before.active) {
    if (after.vcpus > before.vcpus) {
      TVD_RETURN_IF_ERROR(
          FitsAlone(tvd, quota, QuotaKind::kVcpus, after.vcpus));
    }
    if (after.memory_kib > before.memory_kib) {
      TVD_RETURN_IF_ERROR(
          FitsAlone(tvd, quota, QuotaKind::kMemory, after.memory_kib));
    }
    return adds;
  }
  const QuotaAmounts t = HeldOnHost(usage);
  if (after.vcpus > before.vcpus) {
    TVD_RETURN_IF_ERROR(Fits(tvd, quota, QuotaKind::kVcpus,
                             FlooredSub(t.vcpus, before.vcpus), after.vcpus));
    adds.vcpus = after.vcpus - before.vcpus;
  }
  if (after.memory_kib > before.memory_kib) {
    TVD_RETURN_IF_ERROR(Fits(tvd, quota, QuotaKind::kMemory,
                             FlooredSub(t.memory_kib, before.memory_kib),
                             after.memory_kib));
    adds.memory_kib = after.memory_kib - before.memory_kib;
  }
  return adds;
}

}  // namespace tvd::libvirt_filter
