#include "tvd/overview/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::overview {

namespace {

using Clock = std::chrono::steady_clock;

// Loopback: 127.0.0.0/8, ::1, and ::ffff:127.0.0.0/104.
bool IsLoopback(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  if (IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) &&
         a6->sin6_addr.s6_addr[12] == 127;
}

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
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, options.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, options.address.c_str(), &v6->sin6_addr) ==
             1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    return InvalidArgument("listen address '" + options.address +
                           "' is not a numeric IPv4 or IPv6 address");
  }
  if (!IsLoopback(addr) && !options.allow_non_loopback) {
    return PermissionDenied("listen address " + options.address +
                            " is not a loopback address (pass "
                            "--allow-non-loopback to serve other machines)");
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    Status s = ErrnoError(
        "bind " + options.address + ":" + std::to_string(options.port), errno);
    ::close(fd);
    return s;
  }
  if (::listen(fd, 64) != 0) {
    Status s = ErrnoError("listen", errno);
    ::close(fd);
    return s;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const std::uint16_t port =
      ntohs(bound.ss_family == AF_INET
                ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    Status s = ErrnoError("eventfd", errno);
    ::close(fd);
    return s;
  }
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(options), std::move(handler), fd, wake, port));
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler,
                       int listen_fd, int wake_fd, std::uint16_t port)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    MutexLock lock(mutex_);
    // Each connection's fd stays open until its thread is joined, so this
    // cannot hit a reused descriptor.
    for (Connection& c : connections_) ::shutdown(c.fd, SHUT_RDWR);
  }
  for (Connection& c : connections_) {
    if (c.thread.joinable()) c.thread.join();
    ::close(c.fd);
  }
  connections_.clear();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void HttpServer::ReapFinished() {
  MutexLock lock(mutex_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done) {
      it->thread.join();
      ::close(it->fd);
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    ReapFinished();
    if (n < 0 && errno != EINTR) {
      log::Error("poll on the listening socket: ", std::strerror(errno));
      return;
    }
    if (n <= 0 || stopping_ || !(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // the peer gave up already, or EMFILE: next round
    timeval send_timeout{};
    send_timeout.tv_sec = options_.send_timeout.count() / 1000;
    send_timeout.tv_usec = (options_.send_timeout.count() % 1000) * 1000;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
                 sizeof send_timeout);
    MutexLock lock(mutex_);
    if (connections_.size() >= options_.max_connections) {
      SendAll(fd, SerializeResponse(
                      PlainError(503, "too many connections; retry later")));
      ::close(fd);
      continue;
    }
    Connection& c = connections_.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, &c] {
      Serve(c.fd);
      c.done = true;
    });
  }
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
    if (n < 0 || stopping_) return;
    if (n == 0) continue;  // the deadline check above answers 408
    ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;  // closed before a whole request: nothing to answer
    received.append(chunk, static_cast<std::size_t>(got));
  }
  SendAll(fd, SerializeResponse(response));
  // Half-close only: a full close with unread request bytes would send a
  // reset that can destroy the answer before the client reads it. The
  // descriptor is closed when the accept loop reaps this connection.
  ::shutdown(fd, SHUT_WR);
}

}  // namespace tvd::overview
