// The relay's enforcement of TVD quotas (tenant_quota.h): reads what the
// tenant holds from the relay's own view of libvirtd, checks the call
// against the per-host quota, claims this host's new usage from the master
// when the TVD has a quota in total (total_quota_claims.h), and keeps what
// admitted calls will add until libvirtd answered.
//
// Totals: a call that adds anything a total limits is forwarded only after
// the claim was granted; calls that may free something (and a periodic
// pass, ReportsDue) are followed by a report of the host's usage, so the
// master's figure comes back down. Between a free and its report the
// master over-counts this host, never under-counts it.
//
// One QuotaGuard serves every connection of the relay (thread-safe). Checks
// of one TVD run one at a time (a per-TVD lock over read-check-reserve), and
// a call admitted but not yet answered stays reserved, so concurrent calls
// on several connections of one tenant cannot together exceed the quota.
// Tenants do not wait for each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/libvirt_filter/disk_sizes.h"
#include "tvd/libvirt_filter/domain_directory.h"
#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/libvirt_filter/tenant_quota.h"
#include "tvd/libvirt_filter/total_quota_claims.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

// What the domain described by `xml` (libvirt domain XML: from libvirtd, or
// already confined) takes from the quota; `active` as given. vCPUs: the
// <vcpu> `current` attribute, else its text, else 1. Memory: the largest of
// <memory>, <currentMemory> and the sum of <cpu><numa><cell memory>, with
// libvirt's units (default KiB). Disks: every <disk> but cdroms, in every
// <devices>, with a <source file>, sized by `disks`. InvalidArgument "domain
// XML: ..." for XML that does not parse or a malformed number or unit;
// errors of `disks` as they are.
StatusOr<DomainCharge> ChargeOfDomainXml(std::string_view xml, bool active,
                                         DiskSizes& disks);

class QuotaGuard {
 public:
  // All must outlive the guard. `claims` may be null: then a TVD with a
  // quota in total gets every call that adds refused (Unavailable "no
  // master path for the TVD's quota in total").
  QuotaGuard(DomainDirectory& directory, OwnershipCache& cache,
             DiskSizes& disks, TotalQuotaClaims* claims = nullptr);

  // A define (DomainDefineXml/Flags; `start` for DomainCreateXml) of the
  // confined `xml` by the tenant of `scope`.
  // Returns a reservation to Release once libvirtd answered the call or the
  // call was dropped (0: nothing reserved, nothing to release).
  // ResourceExhausted (tenant_quota.h) when it does not fit;
  // InvalidArgument for XML the guard cannot read; Unavailable when the
  // tenant's usage cannot be read from libvirtd, or the claim of a total
  // cannot be decided (the call must then be refused: an unknown usage is
  // not a fitting one); the claim's ResourceExhausted as it came. A scope
  // without quota returns 0 without reading anything.
  StatusOr<std::uint64_t> AdmitDefine(const TenantScope& scope,
                                      std::string_view xml, bool start);

  // A call on one of the tenant's domains (the domain is already known to be
  // the tenant's): DomainCreate, DomainCreateWithFlags, DomainSetVcpus,
  // DomainSetVcpusFlags, DomainSetMemory, DomainSetMemoryFlags,
  // DomainSetMaxMemory are checked; any other procedure returns 0.
  // Errors as AdmitDefine, and ProtocolError for arguments that do not
  // decode.
  StatusOr<std::uint64_t> AdmitDomainCall(const TenantScope& scope,
                                          std::int32_t procedure,
                                          std::span<const std::uint8_t> args);

  // Drops a reservation (0 and unknown ids are ignored).
  void Release(std::uint64_t reservation);

  // libvirtd answered `procedure` of the tenant of `scope`. When the TVD has
  // a quota in total and the procedure may change its usage, the TVD is
  // due a report (ReportsDue).
  void Answered(const TenantScope& scope, std::int32_t procedure);

  // Waits until a TVD is due a report or `until`, whichever is first, or
  // until Wake(). Returns the scopes due (at `until`: every scope with a
  // quota in total in `all` and every one seen since start) and forgets
  // them as due.
  std::vector<TenantScope> ReportsDue(
      std::chrono::steady_clock::time_point until,
      const std::vector<TenantScope>& all);
  // Makes a ReportsDue waiting now return (at stop).
  void Wake();

  // Reports what the TVD holds on this host now (a claim adding nothing).
  // Errors of the usage read or of the claim as they are.
  Status ReportUsage(const TenantScope& scope);

  // What is reserved for `tvd` now (tests).
  QuotaAmounts reserved(const std::string& tvd);

 private:
  struct Tenant {
    Mutex check;  // held over read-check-reserve
  };
  Tenant& TenantFor(const std::string& tvd);
  // The tenant's domains and reservations.
  StatusOr<TenantUsage> ReadUsage(const std::string& tvd, Tenant& tenant)
      TVD_REQUIRES(tenant.check) TVD_EXCLUDES(mu_);
  // Reserves `adds` (nothing when all zero).
  std::uint64_t Reserve(const std::string& tvd, const QuotaAmounts& adds)
      TVD_EXCLUDES(mu_);
  // The claim of a total for a call whose per-host check passed with
  // `adds`. Caller holds tenant.check.
  Status ClaimTotal(const TenantScope& scope, const TenantUsage& usage,
                    const QuotaAmounts& adds);
  void Remember(const TenantScope& scope);

  DomainDirectory& directory_;
  OwnershipCache& cache_;
  DiskSizes& disks_;
  TotalQuotaClaims* claims_;
  Mutex mu_;
  CondVar due_changed_;  // with mu_
  // What admitted, unanswered calls will add, per TVD.
  std::map<std::string, QuotaAmounts> reserved_ TVD_GUARDED_BY(mu_);
  std::map<std::string, TenantScope> seen_ TVD_GUARDED_BY(mu_);  // with totals
  std::map<std::string, TenantScope> due_ TVD_GUARDED_BY(mu_);
  bool woken_ TVD_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<Tenant>> tenants_ TVD_GUARDED_BY(mu_);
  struct Reservation {
    std::string tvd;
    QuotaAmounts amounts;
  };
  std::map<std::uint64_t, Reservation> reservations_ TVD_GUARDED_BY(mu_);
  std::uint64_t next_id_ TVD_GUARDED_BY(mu_) = 1;
};

}  // namespace tvd::libvirt_filter
