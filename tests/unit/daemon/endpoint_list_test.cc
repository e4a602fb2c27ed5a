#include "tvd/daemon/endpoint_list.h"

#include <gtest/gtest.h>

namespace tvd::daemon {
namespace {

TEST(ParseEndpointListTest, OneEntryIsParseEndpointWordForWord) {
  EXPECT_EQ(*ParseEndpointList("127.0.0.1:7400"),
            (std::vector<Endpoint>{{"127.0.0.1", 7400}}));
  EXPECT_EQ(ParseEndpointList("127.0.0.1:74x").status(),
            ParseEndpoint("127.0.0.1:74x").status());
  EXPECT_EQ(ParseEndpointList("127.0.0.1:74x").status(),
            InvalidArgument("'127.0.0.1:74x' does not end in a port 1..65535"));
  EXPECT_EQ(ParseEndpointList("").status(),
            InvalidArgument("'' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)"));
  // No trimming without a comma: as before lists existed.
  EXPECT_EQ(ParseEndpointList(" 127.0.0.1:1").status(),
            InvalidArgument("' 127.0.0.1:1' does not start with an IP "
                            "address"));
}

TEST(ParseEndpointListTest, KeepsTheOrderAndTrimsBlanksAroundEntries) {
  EXPECT_EQ(*ParseEndpointList("127.0.0.2:7400, [::1]:7401,\t127.0.0.1:7400"),
            (std::vector<Endpoint>{
                {"127.0.0.2", 7400}, {"::1", 7401}, {"127.0.0.1", 7400}}));
  EXPECT_EQ(*ParseEndpointList("m1.vdc:1,M2.vdc:1", {.allow_host_name = true}),
            (std::vector<Endpoint>{{"m1.vdc", 1}, {"M2.vdc", 1}}));
  const std::vector<Endpoint> list{{"::1", 9}, {"10.0.0.1", 7400}};
  EXPECT_EQ(EndpointListToString(list), "[::1]:9,10.0.0.1:7400");
  EXPECT_EQ(*ParseEndpointList(EndpointListToString(list)), list);
}

TEST(ParseEndpointListTest, ExactErrors) {
  EXPECT_EQ(ParseEndpointList("127.0.0.1:1,,127.0.0.1:2").status(),
            InvalidArgument("'127.0.0.1:1,,127.0.0.1:2': entry 2 is empty"));
  EXPECT_EQ(ParseEndpointList("127.0.0.1:1,").status(),
            InvalidArgument("'127.0.0.1:1,': entry 2 is empty"));
  EXPECT_EQ(ParseEndpointList(", 127.0.0.1:1").status(),
            InvalidArgument("', 127.0.0.1:1': entry 1 is empty"));
  EXPECT_EQ(ParseEndpointList("127.0.0.1:1,127.0.0.1:0").status(),
            InvalidArgument("'127.0.0.1:1,127.0.0.1:0': entry 2: "
                            "'127.0.0.1:0' does not end in a port 1..65535"));
  EXPECT_EQ(ParseEndpointList("127.0.0.1:1,master.vdc:1").status(),
            InvalidArgument("'127.0.0.1:1,master.vdc:1': entry 2: "
                            "'master.vdc:1' does not start with an IP "
                            "address"));
  EXPECT_EQ(ParseEndpointList("127.0.0.1:1, 127.0.0.2:1 ,127.0.0.1:1").status(),
            InvalidArgument("'127.0.0.1:1, 127.0.0.2:1 ,127.0.0.1:1': entry 3 "
                            "(127.0.0.1:1) repeats entry 1"));
  // One address in two spellings, one name in two cases.
  EXPECT_EQ(ParseEndpointList("[::1]:7,[0:0::1]:7").status(),
            InvalidArgument("'[::1]:7,[0:0::1]:7': entry 2 ([0:0::1]:7) "
                            "repeats entry 1"));
  EXPECT_EQ(
      ParseEndpointList("a.vdc:7,A.VDC:7", {.allow_host_name = true}).status(),
      InvalidArgument("'a.vdc:7,A.VDC:7': entry 2 (A.VDC:7) repeats "
                      "entry 1"));
  // Another port is another endpoint.
  EXPECT_EQ(ParseEndpointList("127.0.0.1:1,127.0.0.1:2")->size(), 2u);
}

TEST(ParseEndpointListTest, AtMostSixteenEntries) {
  std::string sixteen;
  for (int i = 1; i <= 16; ++i) {
    if (!sixteen.empty()) sixteen += ",";
    sixteen += "127.0.0." + std::to_string(i) + ":7400";
  }
  EXPECT_EQ(ParseEndpointList(sixteen)->size(), 16u);
  const std::string seventeen = sixteen + ",127.0.0.17:7400";
  EXPECT_EQ(
      ParseEndpointList(seventeen).status(),
      InvalidArgument("'" + seventeen + "' lists 17 endpoints; at most 16"));
  // Counted before any entry is read: the bad entry is not the error.
  EXPECT_EQ(ParseEndpointList("x,x,x", {}, 2).status(),
            InvalidArgument("'x,x,x' lists 3 endpoints; at most 2"));
}

}  // namespace
}  // namespace tvd::daemon
