// The HTTP request-head parser: what it accepts, and the exact error for
// everything it refuses.
#include "tvd/overview/http_request.h"

#include <gtest/gtest.h>

namespace tvd::overview {
namespace {

StatusOr<std::optional<HttpRequest>> Parse(std::string_view data) {
  return ParseHttpRequestHead(data);
}

Status Error(std::string_view data) { return Parse(data).status(); }

TEST(HttpRequestHead, ParsesAGetWithHeaders) {
  auto r = Parse(
      "GET /overview.json?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8480\r\n"
      "User-Agent:  test \r\nAccept: */*\r\n\r\ntrailing bytes");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  const HttpRequest& q = **r;
  EXPECT_EQ(q.method, "GET");
  EXPECT_EQ(q.target, "/overview.json?x=1");
  EXPECT_EQ(q.path, "/overview.json");
  EXPECT_EQ(q.version, "HTTP/1.1");
  ASSERT_EQ(q.headers.size(), 3u);
  EXPECT_EQ(q.headers[1],
            (std::pair<std::string, std::string>{"user-agent", "test"}));
  EXPECT_EQ(q.Header("host"), "127.0.0.1:8480");
  EXPECT_EQ(q.Header("cookie"), std::nullopt);
}

TEST(HttpRequestHead, Http10NeedsNoHost) {
  auto r = Parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->path, "/");
}

TEST(HttpRequestHead, IncompleteHeadAsksForMore) {
  for (std::string_view partial :
       {"", "GET", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r"}) {
    auto r = Parse(partial);
    ASSERT_TRUE(r.ok()) << partial;
    EXPECT_FALSE(r->has_value()) << partial;
  }
}

TEST(HttpRequestHead, CapsTheHeadSize) {
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'a');
  EXPECT_EQ(Error(big),
            FailedPrecondition("request head larger than 8192 bytes"));
  EXPECT_EQ(HttpStatusForParseError(Error(big)), 431);
  // A complete head that is itself over the cap is refused the same way.
  EXPECT_EQ(Error(big + "\r\n\r\n"),
            FailedPrecondition("request head larger than 8192 bytes"));
  // Just under the cap is fine.
  HttpLimits small{64, 32, 4};
  auto ok = ParseHttpRequestHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n", small);
  EXPECT_TRUE(ok.ok() && ok->has_value());
}

struct BadCase {
  std::string_view data;
  std::string_view error;
};

TEST(HttpRequestHead, RefusesMalformedHeadsWithTheReason) {
  const BadCase cases[] = {
      {"GET /\r\n\r\n", "malformed request line"},
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request line"},
      {" / HTTP/1.1\r\nHost: a\r\n\r\n", "malformed method"},
      {"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", "malformed request line"},
      {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "malformed method"},
      {"GETGETGETGETGETGET / HTTP/1.1\r\nHost: a\r\n\r\n", "malformed method"},
      {"GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
       "request target must start with '/'"},
      {"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
       "invalid character in request target"},
      {"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
       "invalid character in request target"},
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
       "unsupported HTTP version 'HTTP/2.0'"},
      {"GET / http/1.1\r\nHost: a\r\n\r\n",
       "unsupported HTTP version 'http/1.1'"},
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", "bare CR or LF in request head"},
      {"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "bare CR or LF in request head"},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
       "obsolete header line folding"},
      {"GET / HTTP/1.1\r\nHost a\r\n\r\n", "malformed header line 1"},
      {"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", "malformed header line 2"},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "malformed header line 1"},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n",
       "invalid character in header 'x'"},
      {"GET / HTTP/1.1\r\n\r\n", "missing Host header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
       "more than one Host header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
       "request bodies are not accepted"},
      {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
       "request bodies are not accepted"},
  };
  for (const BadCase& c : cases) {
    Status s = Error(c.data);
    EXPECT_EQ(s, InvalidArgument(std::string(c.error))) << c.data;
    EXPECT_EQ(HttpStatusForParseError(s), 400);
  }
}

TEST(HttpRequestHead, LimitsTargetLengthAndHeaderCount) {
  std::string target = "GET /" + std::string(1024, 'a') + " HTTP/1.1\r\n";
  EXPECT_EQ(Error(target + "Host: a\r\n\r\n"),
            InvalidArgument("request target longer than 1024 bytes"));
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 64; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(Error(many + "\r\n"), InvalidArgument("more than 64 headers"));
  EXPECT_TRUE(
      Parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").ok());
}

}  // namespace
}  // namespace tvd::overview
