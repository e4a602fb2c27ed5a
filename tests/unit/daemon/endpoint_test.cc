#include "tvd/daemon/endpoint.h"

#include <gtest/gtest.h>

namespace tvd::daemon {
namespace {

TEST(ParseEndpointTest, Ipv4AndBracketedIpv6) {
  EXPECT_EQ(*ParseEndpoint("127.0.0.1:7400"), (Endpoint{"127.0.0.1", 7400}));
  EXPECT_EQ(*ParseEndpoint("[::1]:9"), (Endpoint{"::1", 9}));
  EXPECT_EQ(*ParseEndpoint("[fe80::1]:65535"), (Endpoint{"fe80::1", 65535}));
}

TEST(ParseEndpointTest, PortZeroOnlyWhereAllowed) {
  EXPECT_EQ(*ParseEndpoint("127.0.0.1:0", {.allow_port_zero = true}),
            (Endpoint{"127.0.0.1", 0}));
  EXPECT_EQ(ParseEndpoint("127.0.0.1:0").status(),
            InvalidArgument("'127.0.0.1:0' does not end in a port 1..65535"));
  EXPECT_EQ(
      ParseEndpoint("127.0.0.1:65536", {.allow_port_zero = true}).status(),
      InvalidArgument("'127.0.0.1:65536' does not end in a port "
                      "0..65535"));
}

TEST(ParseEndpointTest, HostNamesOnlyWhereAllowed) {
  EXPECT_EQ(*ParseEndpoint("master.vdc:7400", {.allow_host_name = true}),
            (Endpoint{"master.vdc", 7400}));
  EXPECT_EQ(ParseEndpoint("localhost:7400").status(),
            InvalidArgument("'localhost:7400' does not start with an IP "
                            "address"));
  EXPECT_EQ(ParseEndpoint("bad_name:1", {.allow_host_name = true}).status(),
            InvalidArgument("'bad_name:1' does not start with a host name or "
                            "IP address"));
  // Brackets hold an IPv6 address and nothing else.
  EXPECT_EQ(ParseEndpoint("[1.2.3.4]:1", {.allow_host_name = true}).status(),
            InvalidArgument("'[1.2.3.4]:1' does not start with a host name or "
                            "IP address"));
}

TEST(ParseEndpointTest, ExactErrors) {
  for (const char* bad : {"host", "::1:9", "[::1]9", "[::1", "1.2.3.4"}) {
    EXPECT_EQ(ParseEndpoint(bad).status(),
              InvalidArgument("'" + std::string(bad) +
                              "' is not ADDRESS:PORT (IPv6 as "
                              "[ADDRESS]:PORT)"))
        << bad;
  }
  // No atoi: signs, spaces and trailing text are refused, not truncated.
  for (const char* bad : {"1.2.3.4:", "1.2.3.4:+80", "1.2.3.4:-1",
                          "1.2.3.4: 80", "1.2.3.4:80x", "1.2.3.4:0x50"}) {
    EXPECT_EQ(ParseEndpoint(bad).status(),
              InvalidArgument("'" + std::string(bad) +
                              "' does not end in a port 1..65535"))
        << bad;
  }
  EXPECT_EQ(ParseEndpoint(":80").status(),
            InvalidArgument("':80' does not start with an IP address"));
}

TEST(EndpointTest, ToStringBracketsIpv6) {
  EXPECT_EQ((Endpoint{"::1", 80}).ToString(), "[::1]:80");
  EXPECT_EQ((Endpoint{"10.0.0.1", 80}).ToString(), "10.0.0.1:80");
}

}  // namespace
}  // namespace tvd::daemon
