// The overview's HTTP server and routes over real loopback sockets: the
// three pages, 404/405, Host check, size cap, request timeout, connection
// limit, a large answer despite unread request bytes, and the refusal of
// non-loopback listen addresses.
#include "tvd/overview/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "fixtures.h"
#include "tvd/overview/overview_site.h"

namespace tvd::overview {
namespace {

using std::chrono::milliseconds;

int Connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Reads until the server closes (it always does after one answer), at most
// `wait`.
std::string ReadAll(int fd, milliseconds wait = milliseconds(5000)) {
  std::string out;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string Exchange(std::uint16_t port, const std::string& request) {
  int fd = Connect(port);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply = ReadAll(fd);
  ::close(fd);
  return reply;
}

std::string Body(const std::string& reply) {
  auto at = reply.find("\r\n\r\n");
  return at == std::string::npos ? "" : reply.substr(at + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    auto s = HttpServer::Start(
        std::move(options),
        [this](const HttpRequest& r) { return site_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(s).value();
  }
  std::string Get(const std::string& path,
                  const std::string& host = "127.0.0.1") {
    return Exchange(server_->port(),
                    "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  }
  OverviewSite site_{[] { return SampleOverview(); }, 5};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesThePageTheJsonAndTheSvg) {
  StartServer();
  std::string page = Get("/");
  EXPECT_TRUE(page.starts_with("HTTP/1.1 200 OK\r\n")) << page;
  EXPECT_NE(page.find("\r\nContent-Type: text/html; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(page.find("\r\nContent-Security-Policy: default-src 'none'; "),
            std::string::npos);
  EXPECT_NE(page.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(Body(page).find("<meta http-equiv=\"refresh\" content=\"5\">"),
            std::string::npos);

  std::string json = Get("/overview.json?t=1", "localhost:8480");
  EXPECT_TRUE(json.starts_with("HTTP/1.1 200 OK\r\n")) << json;
  auto doc = nlohmann::json::parse(Body(json));
  EXPECT_EQ(doc["tvds"][0]["name"], "blue");
  EXPECT_EQ(doc["totals"]["hosts"], 3);

  std::string svg = Get("/overview.svg", "[::1]:1");
  EXPECT_NE(svg.find("\r\nContent-Type: image/svg+xml\r\n"), std::string::npos);
  EXPECT_TRUE(Body(svg).starts_with("<svg "));
}

TEST_F(HttpServerTest, UnknownPathsAndMethodsAreRefused) {
  StartServer();
  std::string r = Get("/etc/passwd");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 404 Not Found\r\n")) << r;
  r = Exchange(
      server_->port(),
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << r;
  EXPECT_NE(r.find("\r\nAllow: GET\r\n"), std::string::npos);
  r = Exchange(server_->port(), "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 405 ")) << r;
  r = Exchange(server_->port(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(r), "400 Bad Request: missing Host header\n");
}

TEST_F(HttpServerTest, ForeignHostHeaderIsRefused) {
  StartServer();
  std::string r = Get("/overview.json", "evil.example:8480");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 403 Forbidden\r\n")) << r;
  EXPECT_EQ(Body(r),
            "403 Forbidden: Host 'evil.example:8480' is not served here\n");
  server_.reset();
  HttpServerOptions o;
  o.allowed_hosts = {"Overview.Internal"};
  StartServer(o);
  EXPECT_TRUE(Get("/", "overview.internal").starts_with("HTTP/1.1 200 "));
}

TEST_F(HttpServerTest, OversizedHeadGets431) {
  StartServer();
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x');
  std::string r = Exchange(server_->port(), big);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
      << r;
  EXPECT_EQ(Body(r),
            "431 Request Header Fields Too Large: request head larger than "
            "8192 bytes\n");
}

// The server answers without reading everything the client sent (here
// bytes after the request head). Closing with unread bytes makes the kernel
// reset the connection and drop what it has not sent yet: a large answer
// would arrive cut short. The server keeps the connection until the client
// closes it.
TEST(HttpServerLinger, LargeAnswerArrivesWholeDespiteUnreadRequestBytes) {
  const std::string big(4 * 1024 * 1024, 'p');
  auto server = HttpServer::Start({}, [&](const HttpRequest&) {
    HttpResponse r;
    r.body = big;
    return r;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int small = 16 * 1024;  // the answer cannot all be in flight at once
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((*server)->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string request =
      "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" + std::string(4096, 'x');
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string r = ReadAll(fd, milliseconds(20000));
  ::close(fd);
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r.substr(0, 200);
  EXPECT_EQ(Body(r).size(), big.size());
}

TEST_F(HttpServerTest, SlowClientTimesOutWith408) {
  HttpServerOptions o;
  o.request_timeout = milliseconds(300);
  StartServer(o);
  int fd = Connect(server_->port());
  const std::string part = "GET / HTTP/1.1\r\nHost: a\r\n";  // never ends
  ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
  std::string r = ReadAll(fd, milliseconds(3000));
  ::close(fd);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << r;
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions o;
  o.max_connections = 1;
  o.request_timeout = milliseconds(2000);
  StartServer(o);
  int idle = Connect(server_->port());  // holds the only slot
  std::this_thread::sleep_for(milliseconds(100));
  std::string r = Get("/");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << r;
  ::close(idle);
}

TEST_F(HttpServerTest, StopCutsIdleConnections) {
  StartServer();
  int idle = Connect(server_->port());
  std::this_thread::sleep_for(milliseconds(50));
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  ::close(idle);
}

TEST(HttpServerListen, RefusesNonLoopbackUnlessAllowed) {
  HttpServerOptions o;
  o.address = "0.0.0.0";
  auto s =
      HttpServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_EQ(s.status(),
            PermissionDenied("listen address 0.0.0.0 is not a loopback "
                             "address (pass --allow-non-loopback to serve "
                             "other machines)"));
  o.address = "localhost";
  EXPECT_EQ(
      HttpServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; })
          .status(),
      InvalidArgument("listen address 'localhost' is not a numeric IPv4 "
                      "or IPv6 address"));
  o.address = "::1";
  auto v6 =
      HttpServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; });
  // Machines without IPv6 loopback fail at bind, never at the check.
  if (!v6.ok()) {
    EXPECT_EQ(v6.status().code(), ErrorCode::kIo) << v6.status();
  }
}

TEST(SerializeResponse, CarriesLengthAndSecurityHeaders) {
  HttpResponse r;
  r.status = 404;
  r.body = "nope\n";
  r.headers.push_back({"Allow", "GET"});
  EXPECT_EQ(SerializeResponse(r),
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 5\r\n"
            "Connection: close\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "X-Frame-Options: DENY\r\n"
            "Content-Security-Policy: default-src 'none'; style-src "
            "'unsafe-inline'; img-src 'self'; frame-ancestors 'none'\r\n"
            "Allow: GET\r\n"
            "\r\n"
            "nope\n");
}

}  // namespace
}  // namespace tvd::overview
