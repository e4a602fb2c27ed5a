// rm-agent: reports this host to rm-server over ZeroMQ/CURVE (a DEALER).
//
// On start it registers; then every `report_interval` it sends its node
// status, and its domains whenever they changed since the last report (and
// at least every `full_report_every` reports). When nothing else was sent
// for `heartbeat_interval` it sends a heartbeat. A re-register notice from
// the server (it restarted or expired us) makes it register and report
// again. On RequestStop() it sends unregister (waiting at most 1 s for it to
// leave) and returns.
//
// Free capacity: free_vcpus = cpus - vCPUs of running domains (floor 0),
// free_mem_kib = MemAvailable.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "tvd/rm/curve_keys.h"
#include "tvd/rm/node_sources.h"
#include "tvd/status.h"

namespace tvd::rm {

struct RmAgentConfig {
  std::string server_endpoint;
  std::string server_public_z85;
  CurveKeyPair agent_keys;
  std::string host;  // must equal the allow-list's name for agent_keys
  std::map<std::string, std::string> properties;
  std::chrono::milliseconds report_interval{2000};
  std::chrono::milliseconds heartbeat_interval{1000};
  int full_report_every = 10;
};

class RmAgent {
 public:
  // Errors: InvalidArgument for a bad server key or empty host.
  static StatusOr<std::unique_ptr<RmAgent>> Create(RmAgentConfig config,
                                                   DomainSource& domains,
                                                   NodeStatusSource& node);

  // Reports until RequestStop(); then unregisters and returns Ok.
  Status Run();
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }

  std::uint64_t reports_sent() const { return reports_sent_.load(); }

 private:
  RmAgent(RmAgentConfig config, DomainSource& domains, NodeStatusSource& node);
  void Send(const AgentMessage& message);
  void Report(bool force_domains);

  RmAgentConfig config_;
  DomainSource& domains_;
  NodeStatusSource& node_;
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> reports_sent_{0};
  std::optional<std::vector<DomainInfo>> last_domains_;
  int reports_since_full_ = 0;
  std::chrono::steady_clock::time_point last_sent_;
};

}  // namespace tvd::rm
