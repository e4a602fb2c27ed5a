// The JSON answers to AdminQuery (docs/master.md, admin protocol): rendered
// from a snapshot of the registry taken under the master's lock and from
// store reads made without it, so a query never holds the lock sessions
// need while SQLite works.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tvd/master/store.h"
#include "tvd/master/tvd_registry.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::master {

struct TvdView {
  std::string name;
  std::uint32_t id = 0;
  Sha256Digest digest{};
  std::uint64_t epoch = 0;
  bool from_file = false;
  std::vector<policy::Network> networks;
  std::vector<std::string> members;  // sorted
  std::set<std::string> connected;   // members with a live channel
  // The sum of the members' claims, when the policy has a total quota.
  std::optional<policy::QuotaAmounts> quota_in_use;
};

// What the query needs from the registry, sorted by TVD name; `connected`
// says whether (tvd, host) has a live member channel.
template <typename Connected>
std::vector<TvdView> SnapshotForQuery(const TvdRegistry& registry,
                                      Connected connected) {
  std::vector<TvdView> out;
  for (const auto& [name, t] : registry.tvds()) {
    TvdView v{name,
              t.policy.id,
              t.digest,
              t.epoch,
              t.from_file,
              t.policy.networks,
              {t.members.begin(), t.members.end()},
              {},
              std::nullopt};
    for (const std::string& m : t.members) {
      if (connected(name, m)) v.connected.insert(m);
    }
    if (!t.policy.total_quota.empty()) {
      v.quota_in_use = registry.quotas().Total(name);
    }
    out.push_back(std::move(v));
  }
  return out;
}

// kTvd: one TVD (NotFound "no TVD named X"); kTvds: all; kHosts: every
// known host with its TVDs; kAudit: the newest 200 audit rows. Store read
// errors are returned as they are.
StatusOr<std::string> RenderQuery(const protocol::AdminQuery& query,
                                  const std::vector<TvdView>& tvds,
                                  Store& store);

}  // namespace tvd::master
