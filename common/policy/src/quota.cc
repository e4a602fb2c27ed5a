#include "tvd/policy/quota.h"

#include <limits>

namespace tvd::policy {

namespace {
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kKibPerMib = 1024;
constexpr std::uint64_t kBytesPerGib = std::uint64_t{1} << 30;
}  // namespace

std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > kMax - b ? kMax : a + b;
}

std::uint64_t FlooredSub(std::uint64_t a, std::uint64_t b) {
  return a > b ? a - b : 0;
}

QuotaAmounts& QuotaAmounts::operator+=(const QuotaAmounts& o) {
  domains = SaturatingAdd(domains, o.domains);
  vcpus = SaturatingAdd(vcpus, o.vcpus);
  memory_kib = SaturatingAdd(memory_kib, o.memory_kib);
  disk_bytes = SaturatingAdd(disk_bytes, o.disk_bytes);
  return *this;
}

std::string_view QuotaKindName(QuotaKind kind) {
  switch (kind) {
    case QuotaKind::kDomains:
      return "domains";
    case QuotaKind::kVcpus:
      return "vcpus";
    case QuotaKind::kMemory:
      return "memory";
    case QuotaKind::kDisk:
      return "disk";
  }
  return "?";
}

std::optional<std::uint64_t> LimitOf(const QuotaLimits& limits,
                                     QuotaKind kind) {
  switch (kind) {
    case QuotaKind::kDomains:
      if (limits.domains) return *limits.domains;
      break;
    case QuotaKind::kVcpus:
      if (limits.vcpus) return *limits.vcpus;
      break;
    case QuotaKind::kMemory:
      // The parser's bounds keep these products far below 2^64.
      if (limits.memory_mib) return *limits.memory_mib * kKibPerMib;
      break;
    case QuotaKind::kDisk:
      if (limits.disk_gib) return *limits.disk_gib * kBytesPerGib;
      break;
  }
  return std::nullopt;
}

std::uint64_t AmountOf(const QuotaAmounts& amounts, QuotaKind kind) {
  switch (kind) {
    case QuotaKind::kDomains:
      return amounts.domains;
    case QuotaKind::kVcpus:
      return amounts.vcpus;
    case QuotaKind::kMemory:
      return amounts.memory_kib;
    case QuotaKind::kDisk:
      return amounts.disk_bytes;
  }
  return 0;
}

std::string PrintAmount(QuotaKind kind, std::uint64_t amount) {
  auto rounded_up = [](std::uint64_t v, std::uint64_t d) {
    return std::to_string(v / d + (v % d != 0 ? 1 : 0));
  };
  switch (kind) {
    case QuotaKind::kMemory:
      return rounded_up(amount, kKibPerMib) + " MiB";
    case QuotaKind::kDisk:
      return rounded_up(amount, kBytesPerGib) + " GiB";
    default:
      return std::to_string(amount);
  }
}

Status QuotaExceeded(std::string_view tvd, QuotaKind kind, QuotaScope scope,
                     std::uint64_t limit, std::uint64_t in_use,
                     std::uint64_t asks) {
  return ResourceExhausted(
      "quota of TVD " + std::string(tvd) +
      " exceeded: " + std::string(QuotaKindName(kind)) +
      (scope == QuotaScope::kPerHost ? " per host " : " in total ") +
      PrintAmount(kind, limit) + ", in use " + PrintAmount(kind, in_use) +
      ", this domain asks for " + PrintAmount(kind, asks));
}

Status QuotaExceededAlone(std::string_view tvd, QuotaKind kind,
                          QuotaScope scope, std::uint64_t limit,
                          std::uint64_t asks) {
  return ResourceExhausted(
      "quota of TVD " + std::string(tvd) +
      " exceeded: " + std::string(QuotaKindName(kind)) +
      (scope == QuotaScope::kPerHost ? " per host " : " in total ") +
      PrintAmount(kind, limit) + ", this domain alone asks for " +
      PrintAmount(kind, asks));
}

Status CheckQuota(std::string_view tvd, const QuotaLimits& limits,
                  QuotaScope scope, const QuotaAmounts& in_use,
                  const QuotaAmounts& adds) {
  for (QuotaKind kind : kQuotaKinds) {
    const std::uint64_t asks = AmountOf(adds, kind);
    const std::optional<std::uint64_t> limit = LimitOf(limits, kind);
    if (asks == 0 || !limit) continue;
    const std::uint64_t used = AmountOf(in_use, kind);
    if (SaturatingAdd(used, asks) > *limit) {
      return QuotaExceeded(tvd, kind, scope, *limit, used, asks);
    }
  }
  return Status::Ok();
}

}  // namespace tvd::policy
