// The rm-server's view of the agents: who is registered, their last status,
// domains and liveness. Pure state, no I/O; time comes in as arguments so
// tests drive it without sleeping. Not thread-safe (one server loop owns it).
//
// Identity: `host` is always the name the allow-list maps the agent's CURVE
// key to, never a name taken from a message. A register message naming a
// different host is refused (PermissionDenied) and changes nothing.
//
// Liveness: any message counts as a heartbeat. An agent that sends nothing
// for heartbeat_interval x missed_heartbeats is marked down; one silent for
// `expiry` is removed (an unregister removes it at once).
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tvd/rm/messages.h"
#include "tvd/status.h"

namespace tvd::rm {

using Clock = std::chrono::steady_clock;

struct LivenessPolicy {
  std::chrono::milliseconds heartbeat_interval{1000};
  int missed_heartbeats = 3;
  std::chrono::milliseconds expiry{30000};
};

struct AgentRecord {
  std::string host;
  std::map<std::string, std::string> properties;
  std::optional<NodeStatus> status;
  std::vector<DomainInfo> domains;
  bool up = true;
  Clock::time_point registered_at;
  Clock::time_point last_seen;
  std::uint64_t status_updates = 0;
};

enum class ApplyResult {
  kApplied,
  kNotRegistered,  // a non-register message from an unknown agent
};

class AgentRegistry {
 public:
  explicit AgentRegistry(LivenessPolicy policy) : policy_(policy) {}

  // Applies one decoded message from the agent authenticated as `host`.
  // Register (re)creates the record with the given properties; status and
  // domains replace the previous values; unregister removes the record.
  // Errors: PermissionDenied when a register names another host (nothing
  // changes). Returns kNotRegistered, changing nothing, for other messages
  // from an agent that is not registered.
  StatusOr<ApplyResult> Apply(const std::string& host,
                              const AgentMessage& message,
                              Clock::time_point now);

  // Marks silent agents down and removes expired ones. Returns the hosts
  // that changed (for logging).
  struct SweepResult {
    std::vector<std::string> went_down;
    std::vector<std::string> expired;
  };
  SweepResult Sweep(Clock::time_point now);

  std::size_t size() const { return agents_.size(); }
  const AgentRecord* Find(const std::string& host) const;

  // Answers a query. The result shapes (all JSON):
  //   agents:   [{"host","up","properties":{..},"last_seen_ms_ago"}]
  //   node:     {"host","up","status":{..} or null}
  //   domains:  [{"name","uuid","state","tvd","networks":[..]}]
  //   networks: ["net", ...]
  //   snapshot: [{"host","up","properties","status","domains"}]
  // Errors: NotFound "no agent 'H'" / "no domain 'D' on 'H'".
  StatusOr<nlohmann::json> Query(const QueryRequest& request,
                                 Clock::time_point now) const;

 private:
  LivenessPolicy policy_;
  std::map<std::string, AgentRecord> agents_;
};

// The reply frame for a query result or error (messages.h, query API).
std::string EncodeQueryReply(const StatusOr<nlohmann::json>& result);

}  // namespace tvd::rm
