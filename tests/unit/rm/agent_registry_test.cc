#include "tvd/rm/agent_registry.h"

#include <gtest/gtest.h>

namespace tvd::rm {
namespace {

using std::chrono::milliseconds;

LivenessPolicy Policy() {
  return LivenessPolicy{milliseconds(100), 3, milliseconds(1000)};
}

TEST(AgentRegistry, RegisterUpdateUnregister) {
  AgentRegistry reg(Policy());
  const Clock::time_point t0{};
  ASSERT_EQ(*reg.Apply("h1", RegisterMsg{"h1", {{"arch", "x86_64"}}}, t0),
            ApplyResult::kApplied);
  NodeStatus s{4, 0.25, 1000, 500, 4, 500};
  ASSERT_EQ(*reg.Apply("h1", StatusMsg{s}, t0), ApplyResult::kApplied);
  DomainInfo d{"vm1", "u1", "running", "blue", {"blue-net"}};
  ASSERT_EQ(*reg.Apply("h1", DomainsMsg{{d}}, t0), ApplyResult::kApplied);
  const AgentRecord* rec = reg.Find("h1");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->status, s);
  EXPECT_EQ(rec->domains, std::vector<DomainInfo>{d});
  EXPECT_EQ(rec->properties.at("arch"), "x86_64");
  ASSERT_EQ(*reg.Apply("h1", UnregisterMsg{}, t0), ApplyResult::kApplied);
  EXPECT_EQ(reg.Find("h1"), nullptr);
}

TEST(AgentRegistry, AgentCannotClaimAnotherHost) {
  AgentRegistry reg(Policy());
  StatusOr<ApplyResult> r = reg.Apply("h1", RegisterMsg{"h2", {}}, {});
  EXPECT_EQ(r.status(),
            PermissionDenied("agent 'h1' tried to register as 'h2'"));
  EXPECT_EQ(reg.size(), 0u);
}

TEST(AgentRegistry, UnknownAgentIsAskedToRegister) {
  AgentRegistry reg(Policy());
  EXPECT_EQ(*reg.Apply("h1", HeartbeatMsg{}, {}), ApplyResult::kNotRegistered);
  EXPECT_EQ(*reg.Apply("h1", StatusMsg{}, {}), ApplyResult::kNotRegistered);
  EXPECT_EQ(reg.size(), 0u);
}

TEST(AgentRegistry, SilentAgentGoesDownThenExpires) {
  AgentRegistry reg(Policy());
  const Clock::time_point t0{};
  ASSERT_TRUE(reg.Apply("h1", RegisterMsg{"h1", {}}, t0).ok());
  EXPECT_TRUE(reg.Sweep(t0 + milliseconds(299)).went_down.empty());
  EXPECT_TRUE(reg.Find("h1")->up);
  EXPECT_EQ(reg.Sweep(t0 + milliseconds(300)).went_down,
            std::vector<std::string>{"h1"});
  EXPECT_FALSE(reg.Find("h1")->up);
  // A heartbeat brings it back.
  ASSERT_TRUE(reg.Apply("h1", HeartbeatMsg{}, t0 + milliseconds(400)).ok());
  EXPECT_TRUE(reg.Find("h1")->up);
  EXPECT_EQ(reg.Sweep(t0 + milliseconds(1400)).expired,
            std::vector<std::string>{"h1"});
  EXPECT_EQ(reg.Find("h1"), nullptr);
}

TEST(AgentRegistry, QueriesReturnTheReportedData) {
  AgentRegistry reg(Policy());
  const Clock::time_point t0{};
  ASSERT_TRUE(reg.Apply("h1", RegisterMsg{"h1", {{"site", "a"}}}, t0).ok());
  ASSERT_TRUE(
      reg.Apply("h1", StatusMsg{NodeStatus{2, 1.5, 10, 5, 1, 5}}, t0).ok());
  ASSERT_TRUE(
      reg.Apply("h1",
                DomainsMsg{{DomainInfo{
                    "vm1", "u1", "running", "blue", {"blue-a", "blue-b"}}}},
                t0)
          .ok());
  using K = QueryRequest::Kind;
  StatusOr<nlohmann::json> agents = reg.Query({K::kAgents, "", ""}, t0);
  ASSERT_TRUE(agents.ok());
  EXPECT_EQ((*agents)[0]["host"], "h1");
  EXPECT_EQ((*agents)[0]["properties"]["site"], "a");
  EXPECT_EQ((*agents)[0]["up"], true);
  StatusOr<nlohmann::json> node = reg.Query({K::kNode, "h1", ""}, t0);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)["status"]["cpus"], 2);
  EXPECT_EQ((*node)["status"]["free_vcpus"], 1);
  StatusOr<nlohmann::json> doms = reg.Query({K::kDomains, "h1", ""}, t0);
  ASSERT_TRUE(doms.ok());
  EXPECT_EQ((*doms)[0]["tvd"], "blue");
  StatusOr<nlohmann::json> nets = reg.Query({K::kNetworks, "h1", "vm1"}, t0);
  ASSERT_TRUE(nets.ok());
  EXPECT_EQ(*nets, nlohmann::json({"blue-a", "blue-b"}));
  StatusOr<nlohmann::json> snap = reg.Query({K::kSnapshot, "", ""}, t0);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)[0]["domains"][0]["name"], "vm1");
  EXPECT_EQ(reg.Query({K::kNode, "h9", ""}, t0).status(),
            NotFound("no agent 'h9'"));
  EXPECT_EQ(reg.Query({K::kNetworks, "h1", "vm9"}, t0).status(),
            NotFound("no domain 'vm9' on 'h1'"));
}

}  // namespace
}  // namespace tvd::rm
