// How the relay asks whether a call fits the TVD's quota in total across
// hosts (the policy's <quotas><total/>): a claim of this host's new usage,
// decided by the master (tvd/master/total_quota_ledger.h).
#pragma once

#include <chrono>
#include <string>

#include "tvd/policy/quota.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

class TotalQuotaClaims {
 public:
  virtual ~TotalQuotaClaims() = default;
  // Claims that this host's usage of `tvd` go from `held` to held + adds
  // (all-zero `adds`: a report of `held`). OK: granted and recorded.
  // ResourceExhausted "quota of TVD <tvd> exceeded: <kind> in total ...":
  // refused. Unavailable: nobody could decide (the caller refuses the call).
  // Called from every connection's thread, concurrently.
  virtual Status Claim(const std::string& tvd, const policy::QuotaAmounts& held,
                       const policy::QuotaAmounts& adds) = 0;
};

// Claims through the TVD's proxy on this host (tvd/proxy/usage_claims.h):
// one control request on the proxy's usage socket,
// host::UsageSocketPath(run_dir, tvd), which the proxy forwards to the
// master. No proxy listening there (the TVD is not joined on this host) is
// Unavailable "the proxy of TVD <tvd> on this host cannot be reached: ...".
class ProxyUsageClaims : public TotalQuotaClaims {
 public:
  explicit ProxyUsageClaims(
      std::string run_dir,
      std::chrono::milliseconds timeout = std::chrono::seconds(15))
      : run_dir_(std::move(run_dir)), timeout_(timeout) {}
  Status Claim(const std::string& tvd, const policy::QuotaAmounts& held,
               const policy::QuotaAmounts& adds) override;

 private:
  std::string run_dir_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tvd::libvirt_filter
