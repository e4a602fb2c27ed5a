// The TVD network model against fakes of OVSDB, the flow table, kernel links
// and the tunnel backend: what it asks each of them to do, and what it leaves
// behind when one of them fails.
#include "tvd/vswitch/network/host_network.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tvd/testing/fake_vswitch_database.h"

namespace tvd::vswitch {
namespace {

class FakeFlows : public OpenFlowSwitch {
 public:
  Status AddFlows(const std::vector<openflow::Flow>& f) override {
    for (const auto& flow : f) flows.push_back(flow);
    return Status::Ok();
  }
  Status DeleteFlows(std::uint64_t cookie, std::uint64_t mask) override {
    std::erase_if(flows, [&](const openflow::Flow& f) {
      return (f.cookie & mask) == (cookie & mask);
    });
    return Status::Ok();
  }
  StatusOr<std::vector<std::uint64_t>> ListCookies(
      std::uint64_t cookie, std::uint64_t mask) override {
    std::set<std::uint64_t> out;
    for (const auto& f : flows) {
      if ((f.cookie & mask) == (cookie & mask)) out.insert(f.cookie);
    }
    return std::vector<std::uint64_t>(out.begin(), out.end());
  }
  std::vector<openflow::Flow> flows;
};

class FakeLinks : public LinkManager {
 public:
  Status EnsureVxlan(const VxlanLink& link) override {
    // A VXLAN device must never exist before its port is guarded.
    if (expect_guard && guards.count(link.dstport) == 0) {
      return FailedPrecondition("VXLAN port " + std::to_string(link.dstport) +
                                " created before its guard");
    }
    links[link.name] = link;
    return Status::Ok();
  }
  Status EnsureVxlanGuard(std::uint16_t port,
                          const std::string& tun_device) override {
    guards[port] = tun_device;
    return Status::Ok();
  }
  Status RemoveVxlanGuard(std::uint16_t port) override {
    for (const auto& [name, link] : links) {
      if (link.dstport == port) {
        return FailedPrecondition("guard removed while " + name + " exists");
      }
    }
    guards.erase(port);
    return Status::Ok();
  }
  StatusOr<std::vector<std::uint16_t>> ListVxlanGuards() override {
    std::vector<std::uint16_t> out;
    for (const auto& [port, tun] : guards) out.push_back(port);
    return out;
  }
  Status SetVxlanPeers(const std::string& name,
                       const std::vector<std::string>& p) override {
    if (!fail_peers.ok()) return fail_peers;
    peers[name] = p;
    return Status::Ok();
  }
  Status DeleteLink(const std::string& name) override {
    if (links.erase(name) == 0) return NotFound(name);
    peers.erase(name);
    return Status::Ok();
  }
  StatusOr<std::vector<std::string>> ListLinks(
      const std::string& prefix) override {
    std::vector<std::string> out;
    for (const auto& [n, l] : links) {
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    return out;
  }
  std::map<std::string, VxlanLink> links;
  std::map<std::string, std::vector<std::string>> peers;
  std::map<std::uint16_t, std::string> guards;  // port -> TUN device
  bool expect_guard = true;
  Status fail_peers;
};

class FakeTunnels : public TunnelBackend {
 public:
  Status EnsureTunnel(const TunnelSpec& spec) override {
    ensured.push_back(spec);
    tunnels.insert(TunnelName(spec));
    return Status::Ok();
  }
  Status RemoveTunnel(const std::string& name) override {
    if (tunnels.erase(name) == 0) return NotFound(name);
    return Status::Ok();
  }
  StatusOr<std::vector<std::string>> ListTunnels() override {
    return std::vector<std::string>(tunnels.begin(), tunnels.end());
  }
  std::vector<TunnelSpec> ensured;
  std::set<std::string> tunnels;
};

class HostNetworkUnitTest : public ::testing::Test {
 protected:
  HostNetworkUnitTest() { model_ = MakeModel(); }

  std::unique_ptr<HostNetwork> MakeModel() {
    HostNetwork::Config cfg;
    cfg.local_host = "host1";
    cfg.local_address = "198.18.0.1";
    return std::make_unique<HostNetwork>(cfg, db_, flows_, links_, tunnels_,
                                         nullptr);
  }

  TvdSpec Blue() {
    TvdSpec t;
    t.tvd = "blue";
    t.tvd_id = 11;
    t.networks = {{"data", 100}};
    t.peers = {{"host2", "198.18.0.2", &psk_}};
    return t;
  }
  TvdSpec Red() {
    TvdSpec t;
    t.tvd = "red";
    t.tvd_id = 12;
    t.networks = {{"data", 200}};
    t.peers = {{"host0", "198.18.0.9", &psk_}};
    return t;
  }

  // What OVSDB records of the bridge.
  const ExternalIds& BridgeIds() { return db_.bridge("br-tvd")->external_ids; }

  testing::FakeVswitchDatabase db_;
  FakeFlows flows_;
  FakeLinks links_;
  FakeTunnels tunnels_;
  SecureBytes psk_ = SecureBytes::Random(32);
  std::unique_ptr<HostNetwork> model_;
};

TEST_F(HostNetworkUnitTest, JoinAllocatesVlanCreatesVxlanFlowsAndTunnel) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  EXPECT_EQ(BridgeIds().at("tvd-vlan:blue:data"), "1:100");
  const PortRow& port = *db_.port("tvx100");
  EXPECT_EQ(port.tag, 1);
  EXPECT_EQ(port.external_ids.at("tvd"), "blue");
  EXPECT_EQ(port.external_ids.at("tvd-kind"), "vxlan");
  const VxlanLink& link = links_.links.at("tvx100");
  EXPECT_EQ(link.vni, 100u);
  EXPECT_EQ(link.dstport, 49152 + 11);
  EXPECT_EQ(link.local_address, "198.18.0.1");
  EXPECT_EQ(links_.peers.at("tvx100"), std::vector<std::string>{"198.18.0.2"});
  ASSERT_EQ(flows_.flows.size(), 2u);  // default drop + VXLAN port
  EXPECT_EQ(flows_.flows[0].priority, 0);
  EXPECT_EQ(flows_.flows[0].action, openflow::Flow::Action::kDrop);
  EXPECT_EQ(flows_.flows[1].cookie, PortCookie(11, "tvx100"));
  EXPECT_EQ(flows_.flows[1].match.in_port, *db_.interface("tvx100")->ofport);
  ASSERT_EQ(tunnels_.ensured.size(), 1u);
  EXPECT_EQ(TunnelName(tunnels_.ensured[0]), "tvd-blue-host2");
  EXPECT_TRUE(tunnels_.ensured[0].initiator);  // "host1" < "host2"
  EXPECT_EQ(tunnels_.ensured[0].psk, &psk_);
}

TEST_F(HostNetworkUnitTest, VlanIsRecoveredByANewControllerNotReallocated) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  ASSERT_TRUE(model_->JoinTvd(Red()).ok());
  EXPECT_EQ(*model_->VlanOf("red", "data"), 2);
  EXPECT_FALSE(tunnels_.ensured.back().initiator);  // "host0" < "host1"
  auto restarted = MakeModel();
  int before = db_.transactions();
  ASSERT_TRUE(restarted->JoinTvd(Blue()).ok());
  EXPECT_EQ(db_.transactions(), before);  // nothing to change in OVSDB
  EXPECT_EQ(*restarted->VlanOf("blue", "data"), 1);
}

TEST_F(HostNetworkUnitTest, FailedTransactionLeavesNoDeviceAndNoTunnel) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  db_.fail_next_write =
      FailedPrecondition("OVSDB transaction failed at operation 2");
  Status s = model_->JoinTvd(Blue());
  EXPECT_EQ(s,
            FailedPrecondition(
                "joining TVD blue: OVSDB transaction failed at operation 2"));
  EXPECT_TRUE(links_.links.empty());
  EXPECT_TRUE(tunnels_.ensured.empty());
  EXPECT_EQ(db_.port("tvx100"), nullptr);
  EXPECT_EQ(BridgeIds().count("tvd-vlan:blue:data"), 0u);
}

TEST_F(HostNetworkUnitTest, FailedPeerSetupRemovesTheNewDevice) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  links_.fail_peers = IoError("bridge fdb append failed");
  Status s = model_->JoinTvd(Blue());
  EXPECT_EQ(s, IoError("TVD blue network data: bridge fdb append failed"));
  EXPECT_TRUE(links_.links.empty());
  EXPECT_EQ(db_.port("tvx100"), nullptr);
}

TEST_F(HostNetworkUnitTest, BadSpecsAreRefusedWithTheField) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  TvdSpec t = Blue();
  t.tvd_id = 0;
  EXPECT_EQ(model_->JoinTvd(t),
            InvalidArgument("TVD blue: id 0 is not in 1..16383"));
  t = Blue();
  t.networks[0].vni = 1 << 24;
  EXPECT_EQ(model_->JoinTvd(t),
            InvalidArgument(
                "TVD blue network data: VNI 16777216 is not in 1..16777215"));
  t = Blue();
  t.tvd = "bl ue";
  EXPECT_EQ(model_->JoinTvd(t),
            InvalidArgument("TVD name 'bl ue' must be 1-64 of [A-Za-z0-9_.-]"));
  EXPECT_EQ(db_.transactions(), 1);  // only EnsureBridge's
}

TEST_F(HostNetworkUnitTest, JoinWithoutBridgeIsAPreconditionError) {
  EXPECT_EQ(
      model_->JoinTvd(Blue()),
      FailedPrecondition("bridge br-tvd does not exist (EnsureBridge first)"));
}

TEST_F(HostNetworkUnitTest, PlugChecksNetworkMacAndGateway) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  ASSERT_TRUE(model_->JoinTvd(Red()).ok());
  EXPECT_EQ(
      model_->PlugVmPort({"vm1", "blue", "mgmt", "a", "02:00:00:00:00:01", ""}),
      FailedPrecondition("TVD blue has no network 'mgmt' on this host"));
  EXPECT_EQ(
      model_->PlugVmPort({"vm1", "blue", "data", "a", "02:00:00:00:01", ""}),
      InvalidArgument("port vm1: MAC address '02:00:00:00:01' is not of "
                      "the form aa:bb:cc:dd:ee:ff"));
  ASSERT_TRUE(model_
                  ->PlugVmPort({"vm1", "blue", "data", "a", "02:00:00:00:00:01",
                                "198.18.1.1"})
                  .ok());
  EXPECT_EQ(db_.port("vm1")->tag, 1);
  EXPECT_EQ(db_.port("vm1")->external_ids.at("vm"), "a");
  EXPECT_EQ(
      model_->PlugVmPort({"vm2", "red", "data", "a", "02:00:00:00:00:02", ""}),
      PermissionDenied("VM a already has a port on TVD blue; a port on "
                       "TVD red needs both policies to allow it as a "
                       "gateway"));
  EXPECT_EQ(db_.port("vm2"), nullptr);
  EXPECT_EQ(
      model_->PlugVmPort({"vm1", "red", "data", "b", "02:00:00:00:00:03", ""}),
      FailedPrecondition("port vm1 already belongs to another TVD network"));
}

TEST_F(HostNetworkUnitTest, PortOpenVswitchCannotAttachIsRolledBack) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  db_.attach_errors["vm1"] =
      "could not open network device vm1 (No such device)";
  EXPECT_EQ(
      model_->PlugVmPort({"vm1", "blue", "data", "a", "02:00:00:00:00:01", ""}),
      FailedPrecondition("Open vSwitch did not attach interface vm1: could not "
                         "open network device vm1 (No such device)"));
  EXPECT_EQ(db_.port("vm1"), nullptr);
  EXPECT_EQ(db_.interface("vm1"), nullptr);
  EXPECT_EQ(flows_.flows.size(), 2u);  // drop + VXLAN port, nothing for vm1
}

TEST_F(HostNetworkUnitTest, VmPortFlowsAllowOnlyOwnMacAndIp) {
  auto flows = VmPortFlows(
      {"p", "blue", "data", "a", "02:00:00:00:00:01", "198.18.1.1"}, 11, 7);
  ASSERT_TRUE(flows.ok());
  ASSERT_EQ(flows->size(), 2u);
  for (const auto& f : *flows) {
    EXPECT_EQ(f.match.in_port, 7u);
    EXPECT_EQ(f.match.eth_src, (openflow::MacAddress{2, 0, 0, 0, 0, 1}));
    EXPECT_EQ(f.action, openflow::Flow::Action::kNormal);
    EXPECT_EQ(f.cookie, PortCookie(11, "p"));
  }
  EXPECT_EQ((*flows)[0].match.eth_type, openflow::kEthTypeArp);
  EXPECT_EQ((*flows)[0].match.arp_spa, 0xc6120101u);
  EXPECT_EQ((*flows)[1].match.eth_type, openflow::kEthTypeIpv4);
  EXPECT_EQ((*flows)[1].match.ipv4_src, 0xc6120101u);
  EXPECT_EQ(PortCookie(11, "p") & kCookieTvdMask, kCookieTag | (11ull << 34));
}

TEST_F(HostNetworkUnitTest, LeaveRemovesExactlyOneTvd) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  ASSERT_TRUE(model_->JoinTvd(Red()).ok());
  ASSERT_TRUE(
      model_->PlugVmPort({"b1", "blue", "data", "a", "02:00:00:00:00:01", ""})
          .ok());
  ASSERT_TRUE(
      model_->PlugVmPort({"r1", "red", "data", "b", "02:00:00:00:00:02", ""})
          .ok());
  ASSERT_TRUE(model_->LeaveTvd("red").ok());
  EXPECT_EQ(db_.port("r1"), nullptr);
  EXPECT_EQ(db_.port("tvx200"), nullptr);
  EXPECT_NE(db_.port("b1"), nullptr);
  EXPECT_NE(db_.port("tvx100"), nullptr);
  EXPECT_EQ(BridgeIds().count("tvd-vlan:red:data"), 0u);
  EXPECT_EQ(BridgeIds().count("tvd-vlan:blue:data"), 1u);
  EXPECT_EQ(links_.links.count("tvx200"), 0u);
  EXPECT_EQ(links_.links.count("tvx100"), 1u);
  EXPECT_EQ(tunnels_.tunnels, std::set<std::string>{"tvd-blue-host2"});
  for (const auto& f : flows_.flows) {
    EXPECT_NE(f.cookie & kCookieTvdMask, kCookieTag | (12ull << 34));
  }
  EXPECT_EQ(flows_.flows.size(), 3u);  // drop, blue VXLAN, b1
  EXPECT_EQ(model_->LeaveTvd("red"),
            NotFound("TVD red has nothing on this host"));
}

TEST_F(HostNetworkUnitTest, ListVmPortsListsExactlyTheTvdsVmPorts) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  ASSERT_TRUE(model_->JoinTvd(Red()).ok());
  ASSERT_TRUE(
      model_->PlugVmPort({"b1", "blue", "data", "a", "02:00:00:00:00:01", ""})
          .ok());
  ASSERT_TRUE(
      model_->PlugVmPort({"b2", "blue", "data", "c", "02:00:00:00:00:03", ""})
          .ok());
  ASSERT_TRUE(
      model_->PlugVmPort({"r1", "red", "data", "b", "02:00:00:00:00:02", ""})
          .ok());
  // A row of the TVD's VM kind without vm/network ids (not written by this
  // model, but still the TVD's port) and a port that is not a TVD port.
  BridgeChange others;
  others.add_ports = {{"odd", 1, {{"tvd", "blue"}, {"tvd-kind", "vm"}}, ""},
                      {"eth9", std::nullopt, {}, ""}};
  ASSERT_TRUE(db_.Apply("br-tvd", others, std::chrono::seconds(1)).ok());
  auto blue = model_->ListVmPorts("blue");
  ASSERT_TRUE(blue.ok()) << blue.status().ToString();
  EXPECT_EQ(*blue,
            (std::vector<VmPortInfo>{
                {"b1", "a", "data"}, {"b2", "c", "data"}, {"odd", "", ""}}));
  auto red = model_->ListVmPorts("red");
  ASSERT_TRUE(red.ok());
  EXPECT_EQ(*red, (std::vector<VmPortInfo>{{"r1", "b", "data"}}));
  // The VXLAN ports (tvd-kind=vxlan) are never listed.
  auto none = model_->ListVmPorts("green");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // What it lists, UnplugVmPort removes.
  ASSERT_TRUE(model_->UnplugVmPort("odd").ok());
  EXPECT_EQ(db_.port("odd"), nullptr);
  EXPECT_EQ(model_->ListVmPorts("bl ue").status(),
            InvalidArgument("TVD name 'bl ue' must be 1-64 of [A-Za-z0-9_.-]"));
  db_.fail_reads = IoError("OVSDB connection closed");
  EXPECT_EQ(model_->ListVmPorts("blue").status(),
            IoError("OVSDB connection closed"));
}

TEST_F(HostNetworkUnitTest, ReconcileRestoresAndRemovesStaleObjects) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  ASSERT_TRUE(model_->JoinTvd(Red()).ok());
  // Leftovers of an earlier life, and a switch that lost its flows.
  tunnels_.tunnels.insert("tvd-gone-host7");
  links_.links["tvx999"] = VxlanLink{"tvx999", 999, "198.18.0.1", 50000};
  flows_.flows.clear();
  openflow::Flow stale;
  stale.cookie = PortCookie(40, "old");
  flows_.flows.push_back(stale);
  DesiredHostState desired;
  desired.tvds = {Blue()};
  desired.ports = {{"b1", "blue", "data", "a", "02:00:00:00:00:01", ""}};
  auto fresh = MakeModel();
  ASSERT_TRUE(fresh->Reconcile(desired).ok());
  EXPECT_EQ(tunnels_.tunnels, std::set<std::string>{"tvd-blue-host2"});
  EXPECT_EQ(links_.links.size(), 1u);
  EXPECT_EQ(links_.links.count("tvx100"), 1u);
  EXPECT_EQ(db_.port("tvx200"), nullptr);
  EXPECT_NE(db_.port("b1"), nullptr);
  auto cookies = flows_.ListCookies(kCookieTag, kCookieTagMask);
  ASSERT_TRUE(cookies.ok());
  EXPECT_EQ(
      std::set<std::uint64_t>(cookies->begin(), cookies->end()),
      (std::set<std::uint64_t>{PortCookie(0, ""), PortCookie(11, "tvx100"),
                               PortCookie(11, "b1")}));
}

TEST_F(HostNetworkUnitTest, VxlanPortIsGuardedFromJoinUntilLeave) {
  ASSERT_TRUE(model_->EnsureBridge().ok());
  ASSERT_TRUE(model_->JoinTvd(Blue()).ok());
  ASSERT_TRUE(model_->JoinTvd(Red()).ok());
  EXPECT_EQ(links_.guards,
            (std::map<std::uint16_t, std::string>{{49152 + 11, "ipsec0"},
                                                  {49152 + 12, "ipsec0"}}));
  ASSERT_TRUE(model_->LeaveTvd("blue").ok());
  EXPECT_EQ(links_.guards,
            (std::map<std::uint16_t, std::string>{{49152 + 12, "ipsec0"}}));
}

TEST_F(HostNetworkUnitTest, ReconcileRemovesGuardsOfTvdsNoLongerHere) {
  links_.guards[49152 + 99] = "ipsec0";  // left by an earlier controller
  ASSERT_TRUE(model_->EnsureBridge().ok());
  DesiredHostState desired;
  desired.tvds = {Blue()};
  ASSERT_TRUE(model_->Reconcile(desired).ok());
  EXPECT_EQ(links_.guards,
            (std::map<std::uint16_t, std::string>{{49152 + 11, "ipsec0"}}));
}

TEST_F(HostNetworkUnitTest, NoGuardWhenEspIsInTheKernel) {
  HostNetwork::Config cfg;
  cfg.local_host = "host1";
  cfg.local_address = "198.18.0.1";
  cfg.ipsec_tun_device = "";
  links_.expect_guard = false;
  HostNetwork model(cfg, db_, flows_, links_, tunnels_, nullptr);
  ASSERT_TRUE(model.EnsureBridge().ok());
  ASSERT_TRUE(model.JoinTvd(Blue()).ok());
  EXPECT_TRUE(links_.guards.empty());
}

}  // namespace
}  // namespace tvd::vswitch
