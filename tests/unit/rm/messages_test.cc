#include "tvd/rm/messages.h"

#include <gtest/gtest.h>

namespace tvd::rm {
namespace {

DomainInfo Blue() {
  return DomainInfo{"cms",
                    "12345678-1234-4234-8234-123456789abc",
                    "running",
                    "blue",
                    {"blue-data", "blue-mgmt"}};
}

TEST(RmMessages, EveryAgentMessageRoundTrips) {
  NodeStatus s{8, 0.5, 16000000, 8000000, 6, 7000000};
  std::vector<AgentMessage> all = {
      RegisterMsg{"host-a", {{"arch", "x86_64"}, {"site", "lab"}}},
      StatusMsg{s},
      DomainsMsg{{Blue(), DomainInfo{"plain", "", "shutoff", "", {}}}},
      HeartbeatMsg{}, UnregisterMsg{}};
  for (const AgentMessage& m : all) {
    StatusOr<AgentMessage> back = DecodeAgentMessage(EncodeAgentMessage(m));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, m);
  }
}

Status DecodeError(std::string_view text) {
  StatusOr<AgentMessage> r = DecodeAgentMessage(text);
  return r.ok() ? Status::Ok() : r.status();
}

TEST(RmMessages, StrictDecoderNamesTheFault) {
  EXPECT_EQ(DecodeError("{"),
            InvalidArgument("rm message: message: not valid JSON"));
  EXPECT_EQ(DecodeError("[]"),
            InvalidArgument("rm message: message: not a JSON object"));
  EXPECT_EQ(DecodeError(R"({"type":"heartbeat"})"),
            InvalidArgument("rm message: message: missing field 'v'"));
  EXPECT_EQ(DecodeError(R"({"v":2,"type":"heartbeat"})"),
            InvalidArgument(
                "rm message: message.v: unsupported version (expected 1)"));
  EXPECT_EQ(DecodeError(R"({"v":1,"type":"reboot"})"),
            InvalidArgument("rm message: message.type: unknown type 'reboot'"));
  EXPECT_EQ(DecodeError(R"({"v":1,"type":"heartbeat","x":1})"),
            InvalidArgument("rm message: heartbeat: unknown field 'x'"));
  EXPECT_EQ(DecodeError(R"({"v":1,"type":"register","properties":{}})"),
            InvalidArgument("rm message: register: missing field 'host'"));
  EXPECT_EQ(
      DecodeError(R"({"v":1,"type":"register","host":7,"properties":{}})"),
      InvalidArgument("rm message: register.host: not a string"));
  EXPECT_EQ(DecodeError(
                R"({"v":1,"type":"register","host":"h","properties":{"a":1}})"),
            InvalidArgument("rm message: register.properties.a: not a string"));
  EXPECT_EQ(
      DecodeError(
          R"({"v":1,"type":"status","status":{"cpus":-1,"load1":0,"mem_total_kib":1,"mem_free_kib":1,"free_vcpus":1,"free_mem_kib":1}})"),
      InvalidArgument("rm message: status.cpus: not a non-negative integer"));
  EXPECT_EQ(
      DecodeError(
          R"({"v":1,"type":"domains","domains":[{"name":"a","uuid":"","state":"running","tvd":"","networks":[]},{"name":"a","uuid":"","state":"running","tvd":"","networks":[]}]})"),
      InvalidArgument("rm message: domains[1].name: duplicate domain 'a'"));
  EXPECT_EQ(
      DecodeError(
          R"({"v":1,"type":"domains","domains":[{"name":"a","uuid":"","state":"running","tvd":"","networks":[3]}]})"),
      InvalidArgument("rm message: domains[0].networks: not a string"));
  EXPECT_EQ(DecodeError(std::string(9, '[') + std::string(9, ']')),
            InvalidArgument("rm message: message: nested too deeply"));
  EXPECT_EQ(DecodeError(R"({"v":1,"type":"heartbeat","x":"[[[[[[[[[[[[[[[["})"),
            InvalidArgument("rm message: heartbeat: unknown field 'x'"));
  EXPECT_EQ(DecodeError(std::string(kMaxMessageBytes + 1, ' ')),
            InvalidArgument("rm message: message: larger than 262144 bytes"));
  EXPECT_EQ(
      DecodeError(R"({"v":1,"type":"register","host":")" +
                  std::string(300, 'h') + R"(","properties":{}})"),
      InvalidArgument("rm message: register.host: longer than 256 bytes"));
}

TEST(RmMessages, QueryRequestsRoundTripAndRejectJunk) {
  for (QueryRequest q :
       {QueryRequest{QueryRequest::Kind::kAgents, "", ""},
        QueryRequest{QueryRequest::Kind::kNode, "h1", ""},
        QueryRequest{QueryRequest::Kind::kDomains, "h1", ""},
        QueryRequest{QueryRequest::Kind::kNetworks, "h1", "cms"},
        QueryRequest{QueryRequest::Kind::kSnapshot, "", ""}}) {
    StatusOr<QueryRequest> back = DecodeQueryRequest(EncodeQueryRequest(q));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, q);
  }
  EXPECT_EQ(DecodeQueryRequest(R"({"v":1,"query":"node"})").status(),
            InvalidArgument("rm message: node: missing field 'host'"));
  EXPECT_EQ(DecodeQueryRequest(R"({"v":1,"query":"drop"})").status(),
            InvalidArgument("rm message: query.query: unknown query 'drop'"));
}

TEST(RmMessages, ReregisterNoticeIsRecognised) {
  EXPECT_TRUE(IsReregisterNotice(EncodeReregisterNotice()));
  EXPECT_FALSE(IsReregisterNotice(R"({"v":1,"type":"heartbeat"})"));
}

}  // namespace
}  // namespace tvd::rm
