// A deliberately small HTTP/1.x server for the overview page: one request
// per connection (answered with "Connection: close"), no request bodies, no
// keep-alive, no TLS (it listens on loopback by default; see docs/overview.md
// for putting it behind something else).
//
// Defences: a non-loopback listen address is refused unless
// allow_non_loopback is set; at most max_connections connections are served
// at once (more get 503 right away); each connection has one deadline for
// receiving its whole request head (408 when it passes) and a send timeout;
// the head is capped (http_request.h); the Host header must name the server
// (a loopback name, or one of allowed_hosts), so a web page elsewhere cannot
// read the overview through DNS rebinding (403 otherwise).
//
// Accepting, the thread per connection, the connection limit and Stop() are
// net::AcceptServer's (accept_server.h); this class adds HTTP.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tvd/net/accept_server.h"
#include "tvd/overview/http_request.h"
#include "tvd/status.h"

namespace tvd::overview {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

// "HTTP/1.1 200 OK\r\n..." with Content-Length, Connection: close, and the
// security headers every answer carries (nosniff, no-store, a CSP that
// allows no scripts and nothing external).
std::string SerializeResponse(const HttpResponse& response);

// The reason phrase of the statuses this server uses ("Not Found").
std::string_view ReasonPhrase(int status);

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6
  std::uint16_t port = 0;             // 0: any free port (see port())
  bool allow_non_loopback = false;
  std::size_t max_connections = 32;  // 0: no limit
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds send_timeout{5000};
  HttpLimits limits;
  // Host header values (without port) accepted besides localhost,
  // 127.0.0.1 and [::1]; e.g. the name a reverse proxy forwards.
  std::vector<std::string> allowed_hosts;
};

// Called on a connection's thread, for a request that parsed and passed the
// Host check. Must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Binds and starts serving on a background thread. Errors:
  // PermissionDenied "listen address 0.0.0.0 is not a loopback address
  // (pass --allow-non-loopback to serve other machines)", InvalidArgument
  // for an address that is not numeric, the bind/listen error otherwise.
  static StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                     HttpHandler handler);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const { return server_->port(); }

  // Stops accepting, cuts open connections, joins every thread. Idempotent.
  void Stop();

 private:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  // One connection, on its own thread: one request, one answer.
  void Serve(int fd);
  // A connection over max_connections, on the accept thread: 503.
  void Refuse(int fd);
  void SetSendTimeout(int fd) const;
  bool HostAllowed(const std::string& host_header) const;

  const HttpServerOptions options_;
  const HttpHandler handler_;
  // Last: destroyed (stopped) before what its handlers use.
  net::AcceptServerPtr server_;
};

}  // namespace tvd::overview
