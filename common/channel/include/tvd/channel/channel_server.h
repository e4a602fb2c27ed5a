// A trusted-channel server: accepts TCP connections, performs the TLS 1.3
// handshake and runs a handler per connection, each on its own thread, so one
// slow, silent or hostile client never delays the others.
//
// A handler may keep a connection beyond its return (Connection::TakeOver);
// for the server that connection then ends there, with the handler's
// status, and whoever took it closes it.
//
// Every connection ends with exactly one ConnectionReport to the observer:
// the peer's address, its identity when the handshake got that far, and the
// final Status (OK, or the reason it was refused or dropped). When the
// handler returns an error and the channel is still open, the error is sent
// to the peer as a kError frame before closing.
//
// Accepting, the thread per connection and Stop() are net::AcceptServer's
// (accept_server.h); this class adds TLS and the report.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tvd/channel/connection.h"
#include "tvd/channel/tls_context.h"
#include "tvd/net/accept_server.h"
#include "tvd/status.h"

namespace tvd::channel {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks a free port (see port())
  std::chrono::milliseconds handshake_timeout{5000};
  std::size_t max_payload = kDefaultMaxPayload;
  // Connections beyond this are closed at once (reported as Unavailable).
  // 0: no limit.
  std::size_t max_connections = 256;
  // A connection that arrives while this many TLS handshakes are in
  // progress is closed before its own (reported as Unavailable "busy: ..."),
  // and its client tries again later. Under a storm of new connections
  // (thousands of hosts reconnecting at once) the server then completes a
  // bounded number of handshakes at a time instead of starting them all and
  // finishing none within the clients' timeouts. 0: no limit.
  std::size_t max_handshakes = 0;
  // The kernel's queue of connections not yet accepted.
  int listen_backlog = 128;
};

struct ConnectionReport {
  std::string peer_address;
  std::optional<pki::Identity> peer;
  Status status;
};

// Runs the application protocol on an authenticated connection. The returned
// Status is the connection's outcome.
using ConnectionHandler = std::function<Status(Connection&)>;
// Called once per connection from that connection's thread.
using ConnectionObserver = std::function<void(const ConnectionReport&)>;

class ChannelServer {
 public:
  // Binds, listens and starts accepting. IoError when the address cannot be
  // bound ("bind 127.0.0.1:4433: Address already in use"); InvalidArgument
  // for a non-server TLS context or an address that is not numeric
  // (net::Listener::Tcp).
  static StatusOr<std::unique_ptr<ChannelServer>> Start(
      const ServerOptions& options, std::shared_ptr<const TlsContext> tls,
      ConnectionHandler handler, ConnectionObserver observer);

  // Stops accepting, shuts down every open connection (their handlers see
  // the channel close), joins all threads. Idempotent.
  void Stop();
  ~ChannelServer();

  std::uint16_t port() const { return server_->port(); }
  // TLS handshakes in progress now (each connection's first moments).
  std::size_t handshakes_in_progress() const { return handshakes_; }

 private:
  ChannelServer() = default;
  // One connection, on its own thread: handshake, handler, report.
  void Serve(int fd);
  // A connection over max_connections, on the accept thread.
  void Refuse(int fd);

  ServerOptions options_;
  std::atomic<std::size_t> handshakes_{0};  // in progress now
  std::shared_ptr<const TlsContext> tls_;
  ConnectionHandler handler_;
  ConnectionObserver observer_;
  // Last: destroyed (stopped) before what its handlers use.
  net::AcceptServerPtr server_;
};

using ChannelServerPtr = std::unique_ptr<ChannelServer>;

}  // namespace tvd::channel
