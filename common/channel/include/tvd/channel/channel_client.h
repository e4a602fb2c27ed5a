// Opening a trusted channel to a master (or any channel server).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "tvd/channel/connection.h"
#include "tvd/channel/tls_context.h"
#include "tvd/status.h"

namespace tvd::channel {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t max_payload = kDefaultMaxPayload;
  // Who the server must be. Every certificate of the VDC CA chains, so
  // without this any host could pose as the master to another host.
  std::optional<pki::Identity> expected_peer;
};

// Connects to host:port (numeric IPv4/IPv6 address) and performs the TLS 1.3
// handshake with `ctx` (a kClient TlsContext). Unavailable when the TCP
// connection fails; the Handshake errors of Connection otherwise. Note that
// in TLS 1.3 the server judges the client certificate after the client has
// finished its handshake: a refused client learns it on its first read.
// With `expected_peer` set, a server with another identity is refused:
// Unauthenticated "server is <identity>, expected <identity>".
StatusOr<ConnectionPtr> ConnectChannel(const std::string& host,
                                       std::uint16_t port,
                                       const TlsContext& ctx,
                                       const ClientOptions& options = {});

// A TCP connection to host:port, blocking, close-on-exec; -1 plus an error on
// failure. For tests and tools that need to speak raw bytes.
StatusOr<int> ConnectTcp(const std::string& host, std::uint16_t port,
                         std::chrono::milliseconds timeout);

// Ignores SIGPIPE once per process (if it is still at its default), so a
// peer that hangs up turns a write into an error instead of killing us.
void IgnoreSigpipeOnce();

}  // namespace tvd::channel
