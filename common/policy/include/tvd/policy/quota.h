// Quotas of a TVD (the policy's <quotas>, docs/policy.md): the limits, the
// amounts they are counted in, and the one wording of a refusal, shared by
// the host's libvirt relay (per host) and the master (in total across hosts).
//
// What counts:
//   - domains: the TVD's defined domains, running or not;
//   - vcpus, memory: of the TVD's running domains;
//   - disk: the images of the TVD's defined domains.
// Amounts come from tenant-written XML: sums saturate instead of wrapping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::policy {

// Upper bounds of quota values. Per host they are far above any one host
// today; in total they allow a 10,000-host datacenter. Both keep every sum
// of limits and amounts far from overflowing.
inline constexpr std::uint32_t kMaxQuotaDomains = 4096;
inline constexpr std::uint32_t kMaxQuotaVcpus = 65536;
inline constexpr std::uint64_t kMaxQuotaMemoryMib = 64ull * 1024 * 1024;
inline constexpr std::uint64_t kMaxQuotaDiskGib = 1024ull * 1024;
inline constexpr std::uint32_t kMaxTotalQuotaDomains = 16u * 1024 * 1024;
inline constexpr std::uint32_t kMaxTotalQuotaVcpus = 256u * 1024 * 1024;
inline constexpr std::uint64_t kMaxTotalQuotaMemoryMib = 1ull << 40;
inline constexpr std::uint64_t kMaxTotalQuotaDiskGib = 1ull << 34;

// One set of limits (<per-host .../> or <total .../>). An absent limit is no
// limit; all absent: no quota.
struct QuotaLimits {
  std::optional<std::uint32_t> domains;
  std::optional<std::uint32_t> vcpus;
  std::optional<std::uint64_t> memory_mib;
  std::optional<std::uint64_t> disk_gib;
  bool empty() const { return !domains && !vcpus && !memory_mib && !disk_gib; }
  friend bool operator==(const QuotaLimits&, const QuotaLimits&) = default;
};

// Amounts in the units the limits are checked in (memory in KiB, disk in
// bytes, as libvirt reports them).
struct QuotaAmounts {
  std::uint64_t domains = 0;
  std::uint64_t vcpus = 0;
  std::uint64_t memory_kib = 0;
  std::uint64_t disk_bytes = 0;
  QuotaAmounts& operator+=(const QuotaAmounts& o);  // saturating
  bool zero() const { return *this == QuotaAmounts{}; }
  friend bool operator==(const QuotaAmounts&, const QuotaAmounts&) = default;
};

// a + b, and a - b floored at 0, both saturating.
std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b);
std::uint64_t FlooredSub(std::uint64_t a, std::uint64_t b);

enum class QuotaKind { kDomains, kVcpus, kMemory, kDisk };
inline constexpr QuotaKind kQuotaKinds[] = {
    QuotaKind::kDomains, QuotaKind::kVcpus, QuotaKind::kMemory,
    QuotaKind::kDisk};

// "domains", "vcpus", "memory", "disk".
std::string_view QuotaKindName(QuotaKind kind);
// The limit of `kind` in the amounts' unit, or nullopt when unlimited.
std::optional<std::uint64_t> LimitOf(const QuotaLimits& limits, QuotaKind kind);
std::uint64_t AmountOf(const QuotaAmounts& amounts, QuotaKind kind);
// `amount` as a person reads it: memory in MiB and disk in GiB, rounded up
// ("4", "2048 MiB", "20 GiB").
std::string PrintAmount(QuotaKind kind, std::uint64_t amount);

// Where a quota holds: "per host" or "in total".
enum class QuotaScope { kPerHost, kTotal };

// ResourceExhausted "quota of TVD <tvd> exceeded: <kind> <scope> <limit>,
// in use <in_use>, this domain asks for <asks>", e.g.
// "quota of TVD blue exceeded: vcpus in total 32, in use 30, this domain
// asks for 4".
Status QuotaExceeded(std::string_view tvd, QuotaKind kind, QuotaScope scope,
                     std::uint64_t limit, std::uint64_t in_use,
                     std::uint64_t asks);
// ResourceExhausted "quota of TVD <tvd> exceeded: <kind> <scope> <limit>,
// this domain alone asks for <asks>": a single domain larger than the whole
// limit, refused whatever is in use.
Status QuotaExceededAlone(std::string_view tvd, QuotaKind kind,
                          QuotaScope scope, std::uint64_t limit,
                          std::uint64_t asks);

// OK when, for every kind `adds` grows and `limits` bounds,
// in_use + adds fits; otherwise the QuotaExceeded of the first kind (in
// kQuotaKinds order) that does not fit.
Status CheckQuota(std::string_view tvd, const QuotaLimits& limits,
                  QuotaScope scope, const QuotaAmounts& in_use,
                  const QuotaAmounts& adds);

}  // namespace tvd::policy
