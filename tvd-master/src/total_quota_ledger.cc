#include "tvd/master/total_quota_ledger.h"

namespace tvd::master {

using policy::QuotaAmounts;

Status TotalQuotaLedger::Claim(const std::string& tvd, const std::string& host,
                               const policy::QuotaLimits& total,
                               const QuotaAmounts& held,
                               const QuotaAmounts& adds) {
  QuotaAmounts in_use = held;
  for (auto it = usage_.lower_bound({tvd, ""});
       it != usage_.end() && it->first.first == tvd; ++it) {
    if (it->first.second != host) in_use += it->second;
  }
  TVD_RETURN_IF_ERROR(
      policy::CheckQuota(tvd, total, policy::QuotaScope::kTotal, in_use, adds));
  QuotaAmounts after = held;
  after += adds;
  usage_[{tvd, host}] = after;
  return Status::Ok();
}

void TotalQuotaLedger::Set(const std::string& tvd, const std::string& host,
                           const QuotaAmounts& amounts) {
  usage_[{tvd, host}] = amounts;
}

void TotalQuotaLedger::DropHost(const std::string& tvd,
                                const std::string& host) {
  usage_.erase({tvd, host});
}

void TotalQuotaLedger::DropTvd(const std::string& tvd) {
  auto it = usage_.lower_bound({tvd, ""});
  while (it != usage_.end() && it->first.first == tvd) it = usage_.erase(it);
}

std::optional<QuotaAmounts> TotalQuotaLedger::Of(
    const std::string& tvd, const std::string& host) const {
  auto it = usage_.find({tvd, host});
  if (it == usage_.end()) return std::nullopt;
  return it->second;
}

QuotaAmounts TotalQuotaLedger::Total(const std::string& tvd) const {
  QuotaAmounts sum;
  for (auto it = usage_.lower_bound({tvd, ""});
       it != usage_.end() && it->first.first == tvd; ++it) {
    sum += it->second;
  }
  return sum;
}

}  // namespace tvd::master
