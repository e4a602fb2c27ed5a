#include "tvd/overview/http_server.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>

namespace tvd::overview {

namespace {

using Clock = std::chrono::steady_clock;

// How long a connection is kept after its answer for the client to close
// first (see Serve).
constexpr std::chrono::milliseconds kLingerAfterAnswer{1000};

void SendAll(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n =
        ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // peer gone or send timeout: nothing more to do
    sent += static_cast<std::size_t>(n);
  }
}

HttpResponse PlainError(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = std::to_string(status) + " " + std::string(ReasonPhrase(status)) +
           ": " + message + "\n";
  return r;
}

std::string LowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string SerializeResponse(const HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                    std::string(ReasonPhrase(r.status)) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n";
  out += "Cache-Control: no-store\r\n";
  out += "X-Content-Type-Options: nosniff\r\n";
  out += "X-Frame-Options: DENY\r\n";
  out +=
      "Content-Security-Policy: default-src 'none'; style-src "
      "'unsafe-inline'; img-src 'self'; frame-ancestors 'none'\r\n";
  for (const auto& [name, value] : r.headers) {
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, HttpHandler handler) {
  TVD_ASSIGN_OR_RETURN(bool loopback, net::IsLoopbackAddress(options.address));
  if (!loopback && !options.allow_non_loopback) {
    return PermissionDenied("listen address " + options.address +
                            " is not a loopback address (pass "
                            "--allow-non-loopback to serve other machines)");
  }
  TVD_ASSIGN_OR_RETURN(
      net::Listener listener,
      net::Listener::Tcp(options.address, options.port, /*backlog=*/64));
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(options), std::move(handler)));
  net::AcceptServerOptions serve;
  serve.name = "overview http server";
  serve.max_connections = server->options_.max_connections;
  serve.on_refused = [s = server.get()](int fd) { s->Refuse(fd); };
  TVD_ASSIGN_OR_RETURN(
      server->server_,
      net::AcceptServer::Start(std::move(listener), std::move(serve),
                               [s = server.get()](int fd) { s->Serve(fd); }));
  return server;
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (server_ != nullptr) server_->Stop();
}

void HttpServer::SetSendTimeout(int fd) const {
  timeval send_timeout{};
  send_timeout.tv_sec = options_.send_timeout.count() / 1000;
  send_timeout.tv_usec = (options_.send_timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
}

void HttpServer::Refuse(int fd) {
  SetSendTimeout(fd);
  SendAll(fd, SerializeResponse(
                  PlainError(503, "too many connections; retry later")));
}

bool HttpServer::HostAllowed(const std::string& host_header) const {
  std::string host = LowerAscii(host_header);
  if (host.starts_with("[")) {
    auto close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  for (const std::string& allowed : options_.allowed_hosts) {
    if (host == LowerAscii(allowed)) return true;
  }
  return false;
}

void HttpServer::Serve(int fd) {
  SetSendTimeout(fd);
  const auto deadline = Clock::now() + options_.request_timeout;
  std::string received;
  char chunk[2048];
  HttpResponse response;
  for (;;) {
    StatusOr<std::optional<HttpRequest>> parsed =
        ParseHttpRequestHead(received, options_.limits);
    if (!parsed.ok()) {
      response = PlainError(HttpStatusForParseError(parsed.status()),
                            parsed.status().message());
      break;
    }
    if (parsed->has_value()) {
      const HttpRequest& request = **parsed;
      std::optional<std::string> host = request.Header("host");
      if (host && !HostAllowed(*host)) {
        response = PlainError(403, "Host '" + *host + "' is not served here");
      } else {
        response = handler_(request);
      }
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      response = PlainError(408, "the request head did not arrive in time");
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;     // Stop() shuts the socket down: recv sees the end
    if (n == 0) continue;  // the deadline check above answers 408
    ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;  // closed before a whole request: nothing to answer
    received.append(chunk, static_cast<std::size_t>(got));
  }
  SendAll(fd, SerializeResponse(response));
  // Half-close, then read and drop what the client still sends until it
  // closes (it has the whole answer then), for at most kLingerAfterAnswer:
  // closing with unread request bytes would send a reset that can destroy
  // the answer before the client reads it. Stop() ends this wait at once.
  ::shutdown(fd, SHUT_WR);
  const auto linger_until = Clock::now() + kLingerAfterAnswer;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        linger_until - Clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;
  }
}

}  // namespace tvd::overview
