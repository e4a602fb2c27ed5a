// The TVD network model on one host with real ovsdb-server / ovs-vswitchd
// (userspace datapath) in a namespace, VM endpoints as namespaces on veth
// pairs: VLAN isolation, anti-spoofing, default deny, tear-down of one TVD,
// reconciliation after ovs-vswitchd restarts.
//
// No peers here, so no tunnel is ever requested; the tunnel backend is a
// null object that refuses EnsureTunnel (cross-host tests use charon).
#include "tvd/vswitch/network/host_network.h"

#include <gtest/gtest.h>

#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/vswitch/network/ovsdb_vswitch_database.h"
#include "tvd/vswitch/openflow/openflow_client.h"

namespace tvd::vswitch {
namespace {

using testing::TestHost;
using testing::UniqueName;
using testing::VmEndpoint;

class NoPeersTunnelBackend : public TunnelBackend {
 public:
  Status EnsureTunnel(const TunnelSpec& spec) override {
    return FailedPrecondition("single-host test asked for tunnel " +
                              TunnelName(spec));
  }
  Status RemoveTunnel(const std::string& name) override {
    return NotFound(name);
  }
  StatusOr<std::vector<std::string>> ListTunnels() override {
    return std::vector<std::string>{};
  }
};

constexpr char kBridge[] = "br-tvd";

class HostNetworkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto host = TestHost::Create("host1", nullptr, "198.18.0.1");
    ASSERT_TRUE(host.ok()) << host.status().ToString();
    host_ = host->release();
  }
  static void TearDownTestSuite() { delete host_; }

  void SetUp() override {
    ASSERT_NE(host_, nullptr);
    auto c = OvsdbClient::Connect({.socket_path = host_->ovs().db_socket()});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ovsdb_ = std::move(c).value();
    db_ = std::make_unique<OvsdbVswitchDatabase>(*ovsdb_);
    links_ = std::make_unique<IpLinkManager>(host_->ns().name());
    ConnectModel();
  }

  void ConnectModel() {
    model_.reset();
    of_.reset();
    HostNetwork::Config cfg;
    cfg.bridge = kBridge;
    cfg.local_host = "host1";
    cfg.local_address = host_->address();
    of_ = OpenFlowClient::Create(
        {.socket_path = host_->ovs().mgmt_socket(kBridge)});
    model_ = std::make_unique<HostNetwork>(
        cfg, *db_, *of_, *links_, tunnels_,
        [this](const std::string& vm, const std::string& a,
               const std::string& b) {
          return gateways_allowed_.count(vm + ":" + a + ":" + b) != 0 ||
                 gateways_allowed_.count(vm + ":" + b + ":" + a) != 0;
        });
    ASSERT_TRUE(model_->EnsureBridge().ok());
  }

  // A VM endpoint plugged into the bridge as `tvd`/`net`.
  std::unique_ptr<VmEndpoint> Vm(const std::string& tvd, const std::string& net,
                                 const std::string& mac, const std::string& ip,
                                 bool plug = true) {
    std::string port = UniqueName("vp");
    auto vm = VmEndpoint::Create(host_->ns().name(), port, mac, ip);
    EXPECT_TRUE(vm.ok()) << vm.status().ToString();
    if (!vm.ok()) return nullptr;
    if (plug) {
      Status s = model_->PlugVmPort({port, tvd, net, "vm-" + port, mac, ip});
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return std::move(vm).value();
  }

  TvdSpec Tvd(const std::string& name, std::uint32_t id, std::uint32_t vni) {
    TvdSpec t;
    t.tvd = name;
    t.tvd_id = id;
    t.networks = {{"data", vni}};
    return t;
  }

  static bool Reaches(const VmEndpoint& from, const VmEndpoint& to) {
    // The first packets may wait for ARP: up to three tries.
    for (int i = 0; i < 3; ++i) {
      if (from.Ping(to.ipv4(), 1, 1).ok()) return true;
    }
    return false;
  }
  static bool Blocked(const VmEndpoint& from, const VmEndpoint& to) {
    return !from.Ping(to.ipv4(), 2, 1).ok();
  }

  static TestHost* host_;
  std::unique_ptr<OvsdbClient> ovsdb_;
  std::unique_ptr<OvsdbVswitchDatabase> db_;
  std::unique_ptr<IpLinkManager> links_;
  std::unique_ptr<OpenFlowClient> of_;
  NoPeersTunnelBackend tunnels_;
  std::set<std::string> gateways_allowed_;
  std::unique_ptr<HostNetwork> model_;
};
TestHost* HostNetworkTest::host_ = nullptr;

TEST_F(HostNetworkTest, SameTvdReachableOtherTvdNotAndLeaveRemovesOnlyOne) {
  ASSERT_TRUE(model_->JoinTvd(Tvd("blue", 11, 1011)).ok());
  ASSERT_TRUE(model_->JoinTvd(Tvd("red", 12, 1012)).ok());
  // One subnet for all: only the switch keeps them apart.
  auto b1 = Vm("blue", "data", "02:00:00:00:0b:01", "198.18.10.1");
  auto b2 = Vm("blue", "data", "02:00:00:00:0b:02", "198.18.10.2");
  auto r1 = Vm("red", "data", "02:00:00:00:0c:01", "198.18.10.3");
  auto r2 = Vm("red", "data", "02:00:00:00:0c:02", "198.18.10.4");
  ASSERT_TRUE(b1 && b2 && r1 && r2);
  auto vb = model_->VlanOf("blue", "data");
  auto vr = model_->VlanOf("red", "data");
  ASSERT_TRUE(vb.ok() && vr.ok());
  EXPECT_NE(*vb, *vr);
  EXPECT_TRUE(Reaches(*b1, *b2));
  EXPECT_TRUE(Reaches(*r1, *r2));
  EXPECT_TRUE(Blocked(*b1, *r1));
  EXPECT_TRUE(Blocked(*r2, *b2));

  ASSERT_TRUE(model_->LeaveTvd("red").ok());
  auto ports = host_->ovs().Vsctl({"list-ports", kBridge});
  ASSERT_TRUE(ports.ok());
  EXPECT_EQ(ports->find(r1->host_port()), std::string::npos);
  EXPECT_EQ(ports->find("tvx1012"), std::string::npos);
  EXPECT_NE(ports->find("tvx1011"), std::string::npos);
  auto links = links_->ListLinks("tvx1012");
  ASSERT_TRUE(links.ok());
  EXPECT_TRUE(links->empty());
  EXPECT_EQ(model_->VlanOf("red", "data").status().code(),
            ErrorCode::kNotFound);
  auto red_flows = of_->ListCookies(PortCookie(12, ""), kCookieTvdMask);
  ASSERT_TRUE(red_flows.ok());
  EXPECT_TRUE(red_flows->empty());
  EXPECT_TRUE(Reaches(*b1, *b2));
  EXPECT_EQ(model_->LeaveTvd("red").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(model_->LeaveTvd("blue").ok());
  EXPECT_TRUE(Blocked(*b1, *b2));
}

TEST_F(HostNetworkTest, SpoofedMacOrIpGetsNothingThrough) {
  ASSERT_TRUE(model_->JoinTvd(Tvd("green", 13, 1013)).ok());
  auto a = Vm("green", "data", "02:00:00:00:0d:01", "198.18.11.1");
  auto b = Vm("green", "data", "02:00:00:00:0d:02", "198.18.11.2");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Reaches(*a, *b));
  // Same port, other source MAC.
  ASSERT_TRUE(
      a->ns()
          .Run({"ip", "link", "set", "eth0", "address", "02:00:00:00:0d:99"})
          .ok());
  ASSERT_TRUE(a->ns().Run({"ip", "neigh", "flush", "all"}).ok());
  ASSERT_TRUE(b->ns().Run({"ip", "neigh", "flush", "all"}).ok());
  EXPECT_TRUE(Blocked(*a, *b));
  // Its own MAC again but another IPv4 source.
  ASSERT_TRUE(
      a->ns().Run({"ip", "link", "set", "eth0", "address", a->mac()}).ok());
  EXPECT_TRUE(Reaches(*a, *b));
  ASSERT_TRUE(a->ns().Run({"ip", "addr", "flush", "dev", "eth0"}).ok());
  ASSERT_TRUE(
      a->ns().Run({"ip", "addr", "add", "198.18.11.9/24", "dev", "eth0"}).ok());
  ASSERT_TRUE(b->ns().Run({"ip", "neigh", "flush", "all"}).ok());
  EXPECT_TRUE(Blocked(*a, *b));
  ASSERT_TRUE(model_->LeaveTvd("green").ok());
}

TEST_F(HostNetworkTest, UnboundPortGetsNothingEvenOnTheRightVlan) {
  ASSERT_TRUE(model_->JoinTvd(Tvd("olive", 14, 1014)).ok());
  auto a = Vm("olive", "data", "02:00:00:00:0e:01", "198.18.12.1");
  auto rogue = Vm("olive", "data", "02:00:00:00:0e:02", "198.18.12.2",
                  /*plug=*/false);
  ASSERT_TRUE(a && rogue);
  auto vlan = model_->VlanOf("olive", "data");
  ASSERT_TRUE(vlan.ok());
  // Someone adds the port by hand, on the TVD's VLAN, bypassing the model.
  ASSERT_TRUE(host_->ovs()
                  .Vsctl({"add-port", kBridge, rogue->host_port(),
                          "tag=" + std::to_string(*vlan)})
                  .ok());
  EXPECT_TRUE(Blocked(*rogue, *a));
  EXPECT_TRUE(Blocked(*a, *rogue));
  ASSERT_TRUE(
      host_->ovs().Vsctl({"del-port", kBridge, rogue->host_port()}).ok());
  ASSERT_TRUE(model_->LeaveTvd("olive").ok());
}

TEST_F(HostNetworkTest, GatewayNeedsBothPolicies) {
  ASSERT_TRUE(model_->JoinTvd(Tvd("gwa", 15, 1015)).ok());
  ASSERT_TRUE(model_->JoinTvd(Tvd("gwb", 16, 1016)).ok());
  auto a = Vm("gwa", "data", "02:00:00:00:0f:01", "198.18.13.1");
  ASSERT_TRUE(a);
  std::string vm = "vm-" + a->host_port();
  std::string second = UniqueName("vg");
  auto nic2 = VmEndpoint::Create(host_->ns().name(), second,
                                 "02:00:00:00:0f:02", "198.18.14.1");
  ASSERT_TRUE(nic2.ok());
  VmPortSpec spec{second,       "gwb", "data", vm, "02:00:00:00:0f:02",
                  "198.18.14.1"};
  Status denied = model_->PlugVmPort(spec);
  EXPECT_EQ(denied.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(denied.message(),
            "VM " + vm +
                " already has a port on TVD gwa; a port on TVD gwb needs both "
                "policies to allow it as a gateway");
  auto ports = host_->ovs().Vsctl({"list-ports", kBridge});
  ASSERT_TRUE(ports.ok());
  EXPECT_EQ(ports->find(second), std::string::npos);
  gateways_allowed_.insert(vm + ":gwa:gwb");
  EXPECT_TRUE(model_->PlugVmPort(spec).ok());
  ASSERT_TRUE(model_->LeaveTvd("gwa").ok());
  ASSERT_TRUE(model_->LeaveTvd("gwb").ok());
}

TEST_F(HostNetworkTest, ReconcileAfterVswitchdRestartRestoresAndPrunes) {
  TvdSpec blue = Tvd("rblue", 17, 1017);
  TvdSpec red = Tvd("rred", 18, 1018);
  ASSERT_TRUE(model_->JoinTvd(blue).ok());
  ASSERT_TRUE(model_->JoinTvd(red).ok());
  auto b1 = Vm("rblue", "data", "02:00:00:00:10:01", "198.18.15.1");
  auto b2 = Vm("rblue", "data", "02:00:00:00:10:02", "198.18.15.2");
  auto stale = Vm("rblue", "data", "02:00:00:00:10:03", "198.18.15.3");
  ASSERT_TRUE(b1 && b2 && stale);
  ASSERT_TRUE(Reaches(*b1, *b2));
  auto vlan_before = model_->VlanOf("rblue", "data");
  ASSERT_TRUE(vlan_before.ok());

  ASSERT_TRUE(host_->ovs().RestartVswitchd().ok());
  // A restarted switch has no flows: secure mode drops everything.
  EXPECT_TRUE(Blocked(*b1, *b2));

  // A fresh controller (new clients, new model) reconciles to a desired
  // state without red and without the stale port.
  ConnectModel();
  DesiredHostState desired;
  desired.tvds = {blue};
  desired.ports = {{b1->host_port(), "rblue", "data", "vm-" + b1->host_port(),
                    b1->mac(), b1->ipv4()},
                   {b2->host_port(), "rblue", "data", "vm-" + b2->host_port(),
                    b2->mac(), b2->ipv4()}};
  Status s = model_->Reconcile(desired);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(Reaches(*b1, *b2));
  EXPECT_TRUE(Blocked(*stale, *b1));
  auto vlan_after = model_->VlanOf("rblue", "data");
  ASSERT_TRUE(vlan_after.ok());
  EXPECT_EQ(*vlan_after, *vlan_before);  // recovered, not re-allocated
  auto ports = host_->ovs().Vsctl({"list-ports", kBridge});
  ASSERT_TRUE(ports.ok());
  EXPECT_EQ(ports->find(stale->host_port()), std::string::npos);
  EXPECT_EQ(ports->find("tvx1018"), std::string::npos);
  auto links = links_->ListLinks("tvx1018");
  ASSERT_TRUE(links.ok());
  EXPECT_TRUE(links->empty());
  // Only wanted cookies remain: default drop, blue's VXLAN port, two VMs.
  auto cookies = of_->ListCookies(kCookieTag, kCookieTagMask);
  ASSERT_TRUE(cookies.ok());
  EXPECT_EQ(cookies->size(), 4u);
  // Reconciling again changes nothing.
  ASSERT_TRUE(model_->Reconcile(desired).ok());
  EXPECT_TRUE(Reaches(*b1, *b2));
  ASSERT_TRUE(model_->Reconcile(DesiredHostState{}).ok());
  EXPECT_TRUE(Blocked(*b1, *b2));
}

}  // namespace
}  // namespace tvd::vswitch
