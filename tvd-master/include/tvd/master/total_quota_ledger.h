// What each member host of a TVD holds against the TVD's total quota, as
// that host's libvirt relay last claimed or reported it (UsageClaim,
// tvd/protocol/messages.h), and the decision on a new claim.
//
// Pure state: no I/O, no clock, not thread-safe (the master serializes
// calls). The master persists every change it makes here (StateStore) and
// loads the rows back with Set at start-up.
//
// Why per host and not one counter per TVD: a host's figure is replaced,
// never added to, so a lost or repeated message cannot make the count drift;
// and a host that leaves takes exactly its own figure with it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "tvd/policy/quota.h"
#include "tvd/status.h"

namespace tvd::master {

class TotalQuotaLedger {
 public:
  // `host` claims that its usage of `tvd` go from `held` to held + adds.
  // For every kind that `adds` grows and `total` limits, the sum of the
  // other hosts' figures plus held + adds must fit; otherwise
  // ResourceExhausted "quota of TVD <tvd> exceeded: <kind> in total
  // <limit>, in use <others + held>, this domain asks for <adds>" and
  // nothing changes. Kinds the call does not grow are never refused (a
  // report, all-zero `adds`, always succeeds): what a host already holds
  // cannot be undone by refusing to count it. On success the host's figure
  // becomes held + adds.
  Status Claim(const std::string& tvd, const std::string& host,
               const policy::QuotaLimits& total,
               const policy::QuotaAmounts& held,
               const policy::QuotaAmounts& adds);

  // Sets a host's figure without a check (loading persisted rows).
  void Set(const std::string& tvd, const std::string& host,
           const policy::QuotaAmounts& amounts);
  // Forgets one host's figure (it left or was evicted: its relay's domains
  // of the TVD are destroyed with the TVD's networks).
  void DropHost(const std::string& tvd, const std::string& host);
  // Forgets every figure of `tvd` (the TVD was removed).
  void DropTvd(const std::string& tvd);

  // The host's figure, if it has one.
  std::optional<policy::QuotaAmounts> Of(const std::string& tvd,
                                         const std::string& host) const;
  // The sum over the TVD's hosts.
  policy::QuotaAmounts Total(const std::string& tvd) const;

 private:
  // (tvd, host) -> figure; ordered so one TVD's hosts are one range.
  std::map<std::pair<std::string, std::string>, policy::QuotaAmounts> usage_;
};

}  // namespace tvd::master
