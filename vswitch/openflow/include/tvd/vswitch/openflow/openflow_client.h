// OpenFlow 1.3 client of one Open vSwitch bridge over its management socket
// (<rundir>/<bridge>.mgmt, a UNIX stream socket ovs-vswitchd creates for
// every bridge). Synchronous and not thread-safe.
//
// Every call reconnects (HELLO handshake) when the connection is gone, e.g.
// after ovs-vswitchd restarted, and retries its batch once: adding the same
// flow twice and deleting an absent flow are both harmless, so a retry can
// never leave a different state than one successful attempt.
// Switch errors are returned as FailedPrecondition
// "switch refused <what>: BAD_MATCH/BAD_PREREQ (4/9)".
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tvd/vswitch/openflow/openflow_switch.h"
#include "tvd/vswitch/ovsdb/unix_stream.h"

namespace tvd::vswitch {

class OpenFlowClient : public OpenFlowSwitch {
 public:
  struct Options {
    std::string socket_path;  // <rundir>/<bridge>.mgmt
    std::chrono::milliseconds timeout{10000};
    std::chrono::milliseconds reconnect_timeout{10000};
  };

  // Connects and completes the HELLO exchange. Unavailable when nobody
  // listens; ProtocolError when the switch does not speak OpenFlow 1.3.
  static StatusOr<std::unique_ptr<OpenFlowClient>> Connect(Options options);
  // A client that connects on its first call (the bridge, and so its
  // socket, may not exist yet).
  static std::unique_ptr<OpenFlowClient> Create(Options options);

  Status AddFlows(const std::vector<openflow::Flow>& flows) override;
  Status DeleteFlows(std::uint64_t cookie, std::uint64_t mask) override;
  StatusOr<std::vector<std::uint64_t>> ListCookies(std::uint64_t cookie,
                                                   std::uint64_t mask) override;

  // Round-trips an ECHO_REQUEST.
  Status Echo();

  std::uint64_t reconnect_count() const { return reconnects_; }

 private:
  explicit OpenFlowClient(Options options) : options_(std::move(options)) {}
  Status Open();
  Status Reconnect();
  // Sends `requests` (pre-encoded, xids first_xid..) followed by a barrier;
  // collects flow-stats replies into `stats` when non-null.
  Status SendBatch(const std::vector<std::string>& requests,
                   std::uint32_t first_xid, const std::string& what,
                   std::vector<openflow::FlowStatsReply::Entry>* stats);
  // Runs `attempt`, reconnecting and retrying once when the connection was
  // lost.
  template <typename F>
  Status WithRetry(F attempt);
  std::uint32_t NextXid() { return next_xid_++; }

  Options options_;
  UnixStream stream_;
  openflow::Decoder decoder_;
  std::uint32_t next_xid_ = 1;
  std::uint64_t reconnects_ = 0;
};

}  // namespace tvd::vswitch
