// A client of one OVSDB server (RFC 7047) over its UNIX socket.
//
// Synchronous and single-threaded, in the style of Open vSwitch's own
// clients: each call sends one request and reads until its response,
// handling whatever else arrives meanwhile (answering the server's "echo",
// delivering "update" notifications to monitor handlers). Poll() processes
// incoming messages when the caller has nothing to send. Not thread-safe.
//
// Reconnection: a call that finds the connection gone reconnects (retrying
// until `reconnect_timeout`) and re-issues every monitor, whose handler then
// receives the new initial contents with `initial` = true. A request that
// was fully sent when the connection dropped is NOT resent, because the
// server may already have committed it; that call returns Unavailable
// ("... outcome unknown") and the caller re-reads state (OVSDB transactions
// are atomic, so the change is either wholly there or wholly absent).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"
#include "tvd/vswitch/ovsdb/unix_stream.h"

namespace tvd::vswitch {

class OvsdbClient {
 public:
  struct Options {
    // e.g. /var/run/openvswitch/db.sock; "tcp:IP:PORT" ("tcp:[IPv6]:PORT")
    // connects over TCP instead (a clustered server's remote).
    std::string socket_path;
    std::chrono::milliseconds call_timeout{10000};
    std::chrono::milliseconds reconnect_timeout{10000};
    std::size_t max_message_bytes = JsonRpcDecoder::kDefaultMaxMessageBytes;
  };

  // table_updates is the RFC 7047 <table-updates> object.
  using UpdateHandler =
      std::function<void(const Json& table_updates, bool initial)>;

  // Connects. Unavailable when the server cannot be reached.
  static StatusOr<std::unique_ptr<OvsdbClient>> Connect(Options options);

  // Sends any request and returns its "result". A JSON-RPC error from the
  // server becomes ProtocolError "OVSDB <method> failed: <error>".
  StatusOr<Json> Call(const std::string& method, const Json& params);

  // Executes `operations` (a JSON array) as ONE transaction on `database`
  // and returns the per-operation results. The server commits all of them or
  // none; any failed operation makes this return FailedPrecondition
  // "OVSDB transaction failed at operation <i> (<op> <table>): <error>:
  // <details>" (a commit-level failure names no operation).
  StatusOr<Json> Transact(const std::string& database, const Json& operations);

  // As Transact on "Open_vSwitch", with Open_vSwitch.next_cfg incremented in
  // the same transaction; then waits until ovs-vswitchd reports (cur_cfg)
  // that it has applied that configuration. Returns the results of
  // `operations` only. Timeout when ovs-vswitchd does not catch up within
  // `wait` (the transaction itself is committed at that point).
  StatusOr<Json> TransactAndWaitApplied(const Json& operations,
                                        std::chrono::milliseconds wait);

  // Starts monitor `monitor_id` (RFC 7047 4.1.5) and calls `handler` with
  // the initial contents, then with every update. The handler must not call
  // back into this client.
  Status Monitor(const std::string& database, const std::string& monitor_id,
                 const Json& requests, UpdateHandler handler);
  // Stops a monitor started by Monitor(). NotFound for an unknown id.
  Status CancelMonitor(const std::string& monitor_id);

  // Round-trips an "echo" (liveness check).
  Status Echo();

  // Processes incoming messages for up to `wait` (returns as soon as at
  // least one message was handled). OK on timeout with nothing received.
  Status Poll(std::chrono::milliseconds wait);

  // Waits until Open_vSwitch.cur_cfg >= target.
  Status WaitForCurCfg(std::int64_t target, std::chrono::milliseconds wait);

  // Drops the connection and connects again (re-issuing monitors).
  Status Reconnect();

  bool connected() const { return stream_.is_open(); }
  // How many times the client has reconnected (observability and tests).
  std::uint64_t reconnect_count() const { return reconnects_; }
  // Echo requests from the server answered so far.
  std::uint64_t echo_replies_sent() const { return echo_replies_; }

 private:
  struct MonitorState {
    std::string database;
    Json requests;
    UpdateHandler handler;
  };

  explicit OvsdbClient(Options options);
  Status Open();
  void Disconnect();
  Status EnsureConnected();
  // Sends one request and waits for its response (no reconnect logic).
  StatusOr<JsonRpcMessage> RoundTrip(const std::string& method,
                                     const Json& params, bool* sent);
  // Reads and handles messages until the response `id` arrives (when id >=
  // 0) or the deadline passes; at least one read when id < 0.
  StatusOr<JsonRpcMessage> Pump(std::int64_t id, Clock::time_point deadline);
  Status Handle(const JsonRpcMessage& msg);
  Status StartMonitor(const std::string& monitor_id, const MonitorState& m);
  Status EnsureCfgMonitor();

  Options options_;
  UnixStream stream_;
  JsonRpcDecoder decoder_;
  std::vector<JsonRpcMessage> pending_;
  std::int64_t next_id_ = 1;
  std::map<std::string, MonitorState> monitors_;
  std::int64_t cur_cfg_ = -1;
  bool cfg_monitor_ = false;
  std::uint64_t reconnects_ = 0;
  std::uint64_t echo_replies_ = 0;
};

}  // namespace tvd::vswitch
