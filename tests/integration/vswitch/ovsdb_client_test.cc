// The OVSDB client against a real ovsdb-server and ovs-vswitchd running in a
// private namespace and directory.
#include "tvd/vswitch/ovsdb/ovsdb_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/vswitch/openflow/openflow_client.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::vswitch {
namespace {

namespace db = ovsdb;
using testing::NetworkNamespace;
using testing::OvsInstance;
using testing::UniqueName;

class OvsdbClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ns = NetworkNamespace::Create(UniqueName("tov"));
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = new NetworkNamespace(std::move(ns).value());
    auto ovs = OvsInstance::Start(ns_->name(), "/tmp/tvd-" + ns_->name());
    ASSERT_TRUE(ovs.ok()) << ovs.status().ToString();
    ovs_ = ovs->release();
  }
  static void TearDownTestSuite() {
    delete ovs_;
    delete ns_;
  }
  void SetUp() override {
    ASSERT_NE(ovs_, nullptr);
    auto c = OvsdbClient::Connect({.socket_path = ovs_->db_socket()});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
  }

  // Ops creating bridge `name` with `n` ports (no devices behind them).
  static Json BridgeOps(const std::string& name, int n) {
    Json ops = Json::array();
    std::vector<Json> ports;
    for (int i = 0; i < n; ++i) {
      std::string p = name + "p" + std::to_string(i);
      ops.push_back(db::Insert("Interface", {{"name", p}, {"type", "internal"}},
                               "i" + std::to_string(i)));
      ops.push_back(db::Insert(
          "Port",
          {{"name", p}, {"interfaces", db::NamedUuid("i" + std::to_string(i))}},
          "p" + std::to_string(i)));
      ports.push_back(db::NamedUuid("p" + std::to_string(i)));
    }
    ops.push_back(db::Insert("Bridge",
                             {{"name", name},
                              {"ports", db::Set(ports)},
                              {"datapath_type", "netdev"},
                              {"fail_mode", "secure"}},
                             "br"));
    ops.push_back(db::Mutate(
        "Open_vSwitch", db::WhereAll(),
        Json::array({Json::array(
            {"bridges", "insert", db::Set({db::NamedUuid("br")})})})));
    return ops;
  }

  std::size_t CountBridges(const std::string& name) {
    auto r = client_->Transact(
        "Open_vSwitch",
        Json::array(
            {db::Select("Bridge", db::Where("name", "==", name), {"name"})}));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? (*r)[0]["rows"].size() : 0;
  }

  static NetworkNamespace* ns_;
  static OvsInstance* ovs_;
  std::unique_ptr<OvsdbClient> client_;
};
NetworkNamespace* OvsdbClientTest::ns_ = nullptr;
OvsInstance* OvsdbClientTest::ovs_ = nullptr;

TEST_F(OvsdbClientTest, BatchTransactionIsAppliedAndMonitorSeesIt) {
  std::vector<std::string> seen;
  int initial_calls = 0;
  ASSERT_TRUE(client_
                  ->Monitor("Open_vSwitch", "bridges",
                            {{"Bridge", {{"columns", {"name"}}}}},
                            [&](const Json& updates, bool initial) {
                              if (initial) ++initial_calls;
                              if (!updates.contains("Bridge")) return;
                              for (const auto& [uuid, row] :
                                   updates["Bridge"].items()) {
                                if (row.contains("new")) {
                                  seen.push_back(row["new"]["name"]);
                                }
                              }
                            })
                  .ok());
  EXPECT_EQ(initial_calls, 1);
  std::string name = UniqueName("bb");
  auto r = client_->TransactAndWaitApplied(BridgeOps(name, 20),
                                           std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), 42u);  // only the caller's operations
  // Applied means ovs-vswitchd has already created the bridge's socket.
  struct stat st;
  EXPECT_EQ(::stat(ovs_->mgmt_socket(name).c_str(), &st), 0);
  auto listed = ovs_->Vsctl({"list-ports", name});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(std::count(listed->begin(), listed->end(), '\n'), 20);
  // The update notification arrives while we wait or on the next poll.
  for (int i = 0; i < 20 && seen.empty(); ++i) {
    ASSERT_TRUE(client_->Poll(std::chrono::milliseconds(100)).ok());
  }
  EXPECT_NE(std::find(seen.begin(), seen.end(), name), seen.end());
  ASSERT_TRUE(ovs_->Vsctl({"del-br", name}).ok());
}

TEST_F(OvsdbClientTest, FailedOperationRollsBackTheWholeTransaction) {
  std::string name = UniqueName("bf");
  Json ops = BridgeOps(name, 2);
  // VLAN tags are 0..4095: the schema refuses 5000.
  ops.push_back(db::Insert("Port", {{"name", name + "x"}, {"tag", 5000}}));
  auto r = client_->Transact("Open_vSwitch", ops);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message().rfind(
                "OVSDB transaction failed at operation 6 (insert Port): "
                "constraint violation",
                0),
            0u)
      << r.status().message();
  EXPECT_EQ(CountBridges(name), 0u);
}

TEST_F(OvsdbClientTest, UnknownTableIsAClearError) {
  auto r = client_->Transact(
      "Open_vSwitch",
      Json::array({db::Select("NoSuchTable", db::WhereAll(), {"name"})}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(
      r.status().message().rfind(
          "OVSDB transaction failed at operation 0 (select NoSuchTable)", 0),
      0u)
      << r.status().message();
}

TEST_F(OvsdbClientTest, EchoRoundTrips) { EXPECT_TRUE(client_->Echo().ok()); }

TEST_F(OvsdbClientTest, OpenFlowClientAddsListsAndDeletesFlowsByCookie) {
  std::string name = UniqueName("bo");
  ASSERT_TRUE(
      client_
          ->TransactAndWaitApplied(BridgeOps(name, 0), std::chrono::seconds(10))
          .ok());
  auto of = OpenFlowClient::Connect({.socket_path = ovs_->mgmt_socket(name)});
  ASSERT_TRUE(of.ok()) << of.status().ToString();
  openflow::Flow a;
  a.cookie = 0x7476000000000001;
  a.priority = 10;
  a.match.eth_type = openflow::kEthTypeArp;
  a.match.arp_spa = 0xc6120001;
  a.action = openflow::Flow::Action::kNormal;
  openflow::Flow b = a;
  b.cookie = 0x7476000000000002;
  b.match.arp_spa = 0xc6120002;
  ASSERT_TRUE((*of)->AddFlows({a, b}).ok());
  auto dump = ovs_->DumpFlows(name);
  ASSERT_TRUE(dump.ok());
  EXPECT_NE(dump->find("cookie=0x7476000000000001"), std::string::npos)
      << *dump;
  EXPECT_NE(dump->find("arp_spa=198.18.0.1 actions=NORMAL"), std::string::npos)
      << *dump;
  auto cookies = (*of)->ListCookies(0x7476ull << 48, 0xffffull << 48);
  ASSERT_TRUE(cookies.ok()) << cookies.status().ToString();
  EXPECT_EQ(*cookies, (std::vector<std::uint64_t>{a.cookie, b.cookie}));
  ASSERT_TRUE((*of)->DeleteFlows(a.cookie, ~0ull).ok());
  cookies = (*of)->ListCookies(0x7476ull << 48, 0xffffull << 48);
  ASSERT_TRUE(cookies.ok());
  EXPECT_EQ(*cookies, std::vector<std::uint64_t>{b.cookie});
  // Table 254 is hidden in Open vSwitch: the switch refuses, and its error
  // comes back decoded.
  openflow::Flow bad = a;
  bad.table = 254;
  Status s = (*of)->AddFlows({bad});
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "switch refused flow add #0: BAD_REQUEST/EPERM (1/5)");
  EXPECT_TRUE((*of)->Echo().ok());
  ASSERT_TRUE(ovs_->Vsctl({"del-br", name}).ok());
}

// Last in this file: it restarts the shared ovsdb-server.
TEST_F(OvsdbClientTest, ReconnectsAfterOvsdbServerRestart) {
  int initial_calls = 0;
  ASSERT_TRUE(client_
                  ->Monitor("Open_vSwitch", "ovs",
                            {{"Open_vSwitch", {{"columns", {"cur_cfg"}}}}},
                            [&](const Json&, bool initial) {
                              if (initial) ++initial_calls;
                            })
                  .ok());
  ASSERT_TRUE(ovs_->RestartOvsdbServer().ok());
  std::string name = UniqueName("br");
  auto r = client_->TransactAndWaitApplied(BridgeOps(name, 1),
                                           std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(client_->reconnect_count(), 1u);
  EXPECT_EQ(initial_calls, 2);  // the monitor was re-issued
  EXPECT_EQ(CountBridges(name), 1u);
  ASSERT_TRUE(ovs_->Vsctl({"del-br", name}).ok());
}

}  // namespace
}  // namespace tvd::vswitch
