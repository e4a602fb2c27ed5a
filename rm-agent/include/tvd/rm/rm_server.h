// rm-server: accepts agents and admin queries over ZeroMQ with CURVE.
//
// Two ROUTER sockets, both CURVE servers with the server's key pair:
//   agent endpoint  agents send AgentMessages (messages.h) from a DEALER;
//                   the server answers only with a re-register notice when a
//                   non-register message comes from an agent it does not know.
//   query endpoint  admins send QueryRequests (DEALER or REQ) and get one
//                   reply each.
// Authentication is a ZAP handler (inproc://zeromq.zap.01, bound before the
// endpoints so no connection is ever accepted unauthenticated): a client key
// is accepted on the agent endpoint only when it is in the agent allow-list,
// on the query endpoint only when in the admin allow-list. A refused key is
// logged as a warning with its Z85 public key and the peer address. The
// agent's host name is the allow-list's name for its key (ZAP user id), so an
// agent cannot speak for another host.
//
// Bad frames (malformed JSON, wrong fields, oversized: libzmq drops peers
// sending more than kMaxMessageBytes) are logged, counted and change nothing.
//
// Threading: Run() is the only loop and owns all sockets and the registry;
// RequestStop() is async-signal-safe and may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "tvd/rm/agent_registry.h"
#include "tvd/rm/curve_keys.h"
#include "tvd/status.h"

namespace tvd::rm {

struct RmServerConfig {
  // ZeroMQ endpoints to bind, e.g. "tcp://127.0.0.1:5560", "ipc:///run/x",
  // "tcp://127.0.0.1:*" (an ephemeral port; see the endpoint getters).
  std::string agent_endpoint;
  std::string query_endpoint;
  CurveKeyPair server_keys;
  AllowList agents;  // key -> host name
  AllowList admins;  // key -> admin label
  LivenessPolicy liveness;
  // How often the loop wakes up to sweep liveness when idle.
  std::chrono::milliseconds tick{100};
};

struct RmServerStats {
  std::atomic<std::uint64_t> agent_messages{0};     // applied
  std::atomic<std::uint64_t> rejected_messages{0};  // malformed or refused
  std::atomic<std::uint64_t> queries{0};
  std::atomic<std::uint64_t> refused_keys{0};
};

class RmServer {
 public:
  // Binds the ZAP handler and both endpoints. Errors: Io/InvalidArgument
  // with the endpoint when a bind fails.
  static StatusOr<std::unique_ptr<RmServer>> Create(RmServerConfig config);
  ~RmServer();

  // The endpoints actually bound (ephemeral ports resolved).
  const std::string& agent_endpoint() const { return agent_endpoint_; }
  const std::string& query_endpoint() const { return query_endpoint_; }
  const std::string& public_key() const {
    return config_.server_keys.public_z85;
  }

  // Serves until RequestStop(). Returns Ok on a requested stop.
  Status Run();
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }

  const RmServerStats& stats() const { return stats_; }

 private:
  explicit RmServer(RmServerConfig config);
  void HandleZap();
  void HandleAgentFrame();
  void HandleQueryFrame();

  RmServerConfig config_;
  zmq::context_t context_;
  zmq::socket_t zap_;
  zmq::socket_t agents_;
  zmq::socket_t queries_;
  std::string agent_endpoint_;
  std::string query_endpoint_;
  AgentRegistry registry_;
  RmServerStats stats_;
  std::atomic<bool> stop_{false};
};

// Sets CURVE server options on `socket` (secret key passed as raw bytes).
void ConfigureCurveServer(zmq::socket_t& socket, const CurveKeyPair& keys,
                          const char* zap_domain);
// Sets CURVE client options on `socket`. Errors: InvalidArgument for a bad
// server key.
Status ConfigureCurveClient(zmq::socket_t& socket, const CurveKeyPair& keys,
                            const std::string& server_public_z85);

}  // namespace tvd::rm
