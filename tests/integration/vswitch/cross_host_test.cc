// The whole vSwitch across two hosts: each host a network namespace with its
// own ovsdb-server, ovs-vswitchd (userspace datapath) and charon (userspace
// ESP), joined by an underlay bridge; two TVDs with two VM endpoints on each
// host. Checks the full ping matrix, that cross-host traffic is ESP only,
// that one TVD leaving one host leaves the other TVD working, and that
// reconciliation restores everything after ovs-vswitchd and charon restart.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "tvd/testing/charon.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/vswitch/network/host_network.h"
#include "tvd/vswitch/network/ovsdb_vswitch_database.h"
#include "tvd/vswitch/openflow/openflow_client.h"
#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace tvd::vswitch {
namespace {

using testing::CharonInstance;
using testing::TestHost;
using testing::TestUnderlay;
using testing::UniqueName;
using testing::VmEndpoint;

constexpr char kBridge[] = "br-tvd";

struct Vm {
  std::string tvd;
  std::string host;
  std::unique_ptr<VmEndpoint> endpoint;
};

// One test host and the controller objects a TVD proxy would own there.
struct Host {
  std::unique_ptr<TestHost> test_host;
  std::unique_ptr<CharonInstance> charon;
  std::unique_ptr<vici::ViciTunnelBackend> tunnels;
  std::unique_ptr<OvsdbClient> ovsdb;
  std::unique_ptr<OvsdbVswitchDatabase> db;
  std::unique_ptr<OpenFlowClient> flows;
  std::unique_ptr<IpLinkManager> links;
  std::unique_ptr<HostNetwork> network;

  const std::string& name() const { return test_host->name(); }

  // (Re)creates every client and the model, as a restarted controller does.
  Status Connect() {
    network.reset();
    TVD_ASSIGN_OR_RETURN(
        tunnels, vici::ViciTunnelBackend::Connect(charon->vici_socket()));
    TVD_ASSIGN_OR_RETURN(
        ovsdb,
        OvsdbClient::Connect({.socket_path = test_host->ovs().db_socket()}));
    db = std::make_unique<OvsdbVswitchDatabase>(*ovsdb);
    flows = OpenFlowClient::Create(
        {.socket_path = test_host->ovs().mgmt_socket(kBridge)});
    links = std::make_unique<IpLinkManager>(test_host->ns().name());
    HostNetwork::Config cfg;
    cfg.bridge = kBridge;
    cfg.local_host = test_host->name();
    cfg.local_address = test_host->address();
    network = std::make_unique<HostNetwork>(cfg, *db, *flows, *links, *tunnels,
                                            nullptr);
    return Status::Ok();
  }
};

class CrossHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto underlay = TestUnderlay::Create();
    ASSERT_TRUE(underlay.ok()) << underlay.status().ToString();
    underlay_ = std::move(underlay).value();
    const char* addrs[] = {"198.18.0.1", "198.18.0.2"};
    for (int i = 0; i < 2; ++i) {
      auto& h = hosts_[i];
      auto th = TestHost::Create("host" + std::to_string(i + 1),
                                 underlay_.get(), addrs[i]);
      ASSERT_TRUE(th.ok()) << th.status().ToString();
      h.test_host = std::move(th).value();
      auto charon = CharonInstance::Start(h.test_host->ns());
      ASSERT_TRUE(charon.ok()) << charon.status().ToString();
      h.charon = std::move(charon).value();
      ASSERT_TRUE(h.Connect().ok());
      ASSERT_TRUE(h.network->EnsureBridge().ok());
    }
    // Both TVDs use one VM subnet: only the vSwitch keeps them apart.
    int n = 0;
    for (std::string tvd : {"blue", "red"}) {
      for (int hi = 0; hi < 2; ++hi) {
        for (int k = 0; k < 2; ++k, ++n) {
          char mac[32];
          std::snprintf(mac, sizeof(mac), "02:00:00:00:%02x:%02x", hi + 1, n);
          Vm vm;
          vm.tvd = tvd;
          vm.host = hosts_[hi].name();
          auto ep = VmEndpoint::Create(hosts_[hi].test_host->ns().name(),
                                       UniqueName("vp"), mac,
                                       "198.19.0." + std::to_string(n + 1));
          ASSERT_TRUE(ep.ok()) << ep.status().ToString();
          vm.endpoint = std::move(ep).value();
          vms_.push_back(std::move(vm));
        }
      }
    }
    // Responder (host2) first, then the initiator (host1).
    for (int hi : {1, 0}) ASSERT_TRUE(Apply(hi, Desired(hi)).ok());
  }

  void TearDown() override {
    vms_.clear();
    for (auto& h : hosts_) {
      h.network.reset();
      h.tunnels.reset();
      h.charon.reset();
      h.test_host.reset();
    }
    underlay_.reset();
  }

  TvdSpec Tvd(int host_index, const std::string& tvd) {
    TvdSpec t;
    t.tvd = tvd;
    t.tvd_id = tvd == "blue" ? 21 : 22;
    t.networks = {{"data", tvd == "blue" ? 5021u : 5022u}};
    const Host& peer = hosts_[1 - host_index];
    t.peers = {{peer.name(), peer.test_host->address(),
                tvd == "blue" ? &blue_psk_ : &red_psk_}};
    t.ike_proposals = {"aes256gcm16-prfsha256-ecp256"};
    t.esp_proposals = {"aes256gcm16"};
    return t;
  }

  DesiredHostState Desired(int host_index, const std::set<std::string>& tvds = {
                                               "blue", "red"}) {
    DesiredHostState d;
    for (const auto& t : tvds) d.tvds.push_back(Tvd(host_index, t));
    for (const Vm& vm : vms_) {
      if (vm.host != hosts_[host_index].name() || !tvds.count(vm.tvd)) continue;
      d.ports.push_back({vm.endpoint->host_port(), vm.tvd, "data",
                         "vm-" + vm.endpoint->host_port(), vm.endpoint->mac(),
                         vm.endpoint->ipv4()});
    }
    return d;
  }

  // Reconciles host `i` to `d`; the initiator's tunnel may need a second
  // round while the responder is still being configured.
  Status Apply(int i, const DesiredHostState& d) {
    Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s = hosts_[i].network->Reconcile(d);
      if (s.ok()) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return s;
  }

  static bool Reaches(const VmEndpoint& a, const VmEndpoint& b) {
    for (int i = 0; i < 4; ++i) {
      if (a.Ping(b.ipv4(), 1, 1).ok()) return true;
    }
    return false;
  }

  // Pings every ordered pair of VMs (in parallel) and returns the failures:
  // "a -> b: expected reachable|blocked". `present` says which VMs are still
  // attached; absent ones must be unreachable from everyone.
  std::vector<std::string> Matrix(const std::set<std::string>& absent = {}) {
    std::vector<std::future<std::string>> results;
    for (const Vm& a : vms_) {
      for (const Vm& b : vms_) {
        if (&a == &b) continue;
        bool want = a.tvd == b.tvd && !absent.count(a.endpoint->host_port()) &&
                    !absent.count(b.endpoint->host_port());
        results.push_back(std::async(std::launch::async, [&a, &b, want] {
          bool got = want ? Reaches(*a.endpoint, *b.endpoint)
                          : a.endpoint->Ping(b.endpoint->ipv4(), 2, 1).ok();
          if (got == want) return std::string();
          return a.tvd + "@" + a.host + " " + a.endpoint->ipv4() + " -> " +
                 b.tvd + "@" + b.host + " " + b.endpoint->ipv4() +
                 (want ? ": expected reachable" : ": expected blocked");
        }));
      }
    }
    std::vector<std::string> failures;
    for (auto& r : results) {
      std::string f = r.get();
      if (!f.empty()) failures.push_back(f);
    }
    return failures;
  }

  const Vm& FirstVm(const std::string& tvd, const std::string& host) {
    for (const Vm& vm : vms_) {
      if (vm.tvd == tvd && vm.host == host) return vm;
    }
    static Vm none;
    return none;
  }

  // bytes-out of the "-out" child of tunnel `name` on host `i`.
  long ChildBytesOut(int i, const std::string& name) {
    auto sas = hosts_[i].tunnels->client().ListSas(name);
    if (!sas.ok()) return -1;
    for (const vici::Message& m : *sas) {
      const vici::Message* ike = m.Section(name);
      if (ike == nullptr) continue;
      const vici::Message* children = ike->Section("child-sas");
      if (children == nullptr) continue;
      for (const vici::Message::Entry& e : children->entries()) {
        const vici::Message& c = children->SectionAt(e);
        if (c.ValueOr("name", "") == name + "-out") {
          return std::stol(c.ValueOr("bytes-out", "0"));
        }
      }
    }
    return -1;
  }

  // Starts tcpdump on `h`'s underlay interface writing to `pcap`, and waits
  // until it is listening (so no packet of the test is missed).
  static StatusOr<ChildProcess> StartCapture(
      const Host& h, const std::string& pcap,
      const std::vector<std::string>& filter) {
    std::vector<std::string> argv = {"tcpdump", "-i", "ul0", "-n",
                                     "-U",      "-w", pcap};
    argv.insert(argv.end(), filter.begin(), filter.end());
    ProcessOptions o = h.test_host->ns().Options(argv);
    o.stderr_path = pcap + ".log";
    TVD_ASSIGN_OR_RETURN(ChildProcess tcpdump, ChildProcess::Start(o));
    for (int i = 0; i < 250; ++i) {
      std::ifstream log(o.stderr_path);
      std::stringstream text;
      text << log.rdbuf();
      if (text.str().find("listening on") != std::string::npos) {
        return tcpdump;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Timeout("tcpdump in " + h.name() + " did not start listening");
  }

  void LeaveOnHost2AndCheck(const std::string& leaving,
                            const std::string& staying);

  std::unique_ptr<TestUnderlay> underlay_;
  Host hosts_[2];
  std::vector<Vm> vms_;
  SecureBytes blue_psk_ = SecureBytes::Random(32);
  SecureBytes red_psk_ = SecureBytes::Random(32);
};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_F(CrossHostTest, PingMatrixHoldsAndUnderlayCarriesOnlyEsp) {
  const std::string capture = hosts_[0].test_host->dir() + "/underlay.pcap";
  long before = ChildBytesOut(0, "tvd-blue-host2");
  ASSERT_GE(before, 0);
  auto tcpdump = StartCapture(hosts_[0], capture, {});
  ASSERT_TRUE(tcpdump.ok()) << tcpdump.status().ToString();

  std::vector<std::string> failures = Matrix();
  EXPECT_TRUE(failures.empty()) << Join(failures);
  ASSERT_TRUE(tcpdump->Stop().ok());

  ProcessOptions read;
  read.argv = {"tcpdump", "-n", "-r", capture};
  auto dump = RunCommand(read);
  ASSERT_TRUE(dump.ok());
  const std::string& text = dump->out;
  EXPECT_NE(text.find("UDP-encap: ESP"), std::string::npos) << text;
  // No VM ping in the clear (the host's own IPv6 neighbour discovery on
  // the underlay link is ICMP6 and not ours to judge).
  EXPECT_EQ(text.find("ICMP echo"), std::string::npos) << text;
  for (const char* port : {".49173", ".49174"}) {  // the TVDs' VXLAN ports
    EXPECT_EQ(text.find(port), std::string::npos) << port << "\n" << text;
  }
  EXPECT_GT(ChildBytesOut(0, "tvd-blue-host2"), before);
  EXPECT_GT(ChildBytesOut(0, "tvd-red-host2"), 0);
}

// Host2 leaves `leaving`; the other TVD, `staying`, must keep working
// between the two hosts whichever of the two TVDs' SAs came up first.
void CrossHostTest::LeaveOnHost2AndCheck(const std::string& leaving,
                                         const std::string& staying) {
  ASSERT_TRUE(hosts_[1].network->LeaveTvd(leaving).ok());
  // The master tells host1 that host2 left: host1 loses the peer there.
  DesiredHostState host1 = Desired(0);
  for (TvdSpec& t : host1.tvds) {
    if (t.tvd == leaving) t.peers.clear();
  }
  ASSERT_TRUE(Apply(0, host1).ok());

  // Nothing of `leaving` remains on host2.
  const std::string gone_vxlan = leaving == "blue" ? "tvx5021" : "tvx5022";
  const std::string kept_vxlan = leaving == "blue" ? "tvx5022" : "tvx5021";
  auto ports = hosts_[1].test_host->ovs().Vsctl({"list-ports", kBridge});
  ASSERT_TRUE(ports.ok());
  std::set<std::string> absent;
  for (const Vm& vm : vms_) {
    if (vm.tvd == leaving && vm.host == "host2") {
      absent.insert(vm.endpoint->host_port());
      EXPECT_EQ(ports->find(vm.endpoint->host_port()), std::string::npos);
    }
  }
  EXPECT_EQ(ports->find(gone_vxlan), std::string::npos);
  EXPECT_NE(ports->find(kept_vxlan), std::string::npos);
  auto links = hosts_[1].links->ListLinks("tvx");
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(*links, std::vector<std::string>{kept_vxlan});
  for (int i = 0; i < 2; ++i) {
    auto tunnels = hosts_[i].tunnels->ListTunnels();
    ASSERT_TRUE(tunnels.ok());
    std::string peer = i == 0 ? "host2" : "host1";
    EXPECT_EQ(*tunnels,
              std::vector<std::string>{"tvd-" + staying + "-" + peer});
  }
  auto gone_flows = hosts_[1].flows->ListCookies(
      PortCookie(leaving == "blue" ? 21 : 22, ""), kCookieTvdMask);
  ASSERT_TRUE(gone_flows.ok());
  EXPECT_TRUE(gone_flows->empty());
  auto guards = hosts_[1].links->ListVxlanGuards();
  ASSERT_TRUE(guards.ok());
  EXPECT_EQ(*guards, std::vector<std::uint16_t>{static_cast<std::uint16_t>(
                         VxlanPortForTvd(staying == "blue" ? 21 : 22))});

  std::vector<std::string> failures = Matrix(absent);
  EXPECT_TRUE(failures.empty()) << Join(failures);
}

// Red's SAs came up second (SetUp configures blue first).
TEST_F(CrossHostTest, OneTvdLeavingOneHostLeavesTheOtherWorking) {
  LeaveOnHost2AndCheck("red", "blue");
}

// Blue's SAs came up first: charon's own route to the peer (table 220) goes
// with them, and red's VXLAN must still reach the peer through its own
// steering rule.
TEST_F(CrossHostTest, FirstTunnelToAPeerLeavingKeepsTheOtherTvdsTunnel) {
  LeaveOnHost2AndCheck("blue", "red");
}

TEST_F(CrossHostTest,
       ReconcileRestoresTheMatrixAfterVswitchdThenCharonRestart) {
  ASSERT_TRUE(Reaches(*FirstVm("blue", "host1").endpoint,
                      *FirstVm("blue", "host2").endpoint));
  for (auto& h : hosts_) ASSERT_TRUE(h.test_host->ovs().RestartVswitchd().ok());
  // No flows in a restarted switch: nothing passes until reconciled.
  EXPECT_FALSE(
      FirstVm("blue", "host1")
          .endpoint->Ping(FirstVm("blue", "host2").endpoint->ipv4(), 2, 1)
          .ok());
  for (int i : {1, 0}) {
    ASSERT_TRUE(hosts_[i].Connect().ok());
    Status s = Apply(i, Desired(i));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<std::string> failures = Matrix();
  EXPECT_TRUE(failures.empty()) << "after ovs-vswitchd restart:\n"
                                << Join(failures);

  for (auto& h : hosts_) {
    h.tunnels.reset();
    ASSERT_TRUE(h.charon->Restart().ok());
  }
  for (int i : {1, 0}) {
    ASSERT_TRUE(hosts_[i].Connect().ok());
    Status s = Apply(i, Desired(i));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  failures = Matrix();
  EXPECT_TRUE(failures.empty()) << "after charon restart:\n" << Join(failures);
}

// Packets the VXLAN device `dev` in host `i` has received.
long RxPackets(const Host& h, const std::string& dev) {
  auto r =
      h.test_host->ns().Exec({"ip", "-s", "-o", "link", "show", "dev", dev});
  if (!r.ok() || r->exit_status != 0) return -1;
  // "... RX: bytes packets ... \    <bytes> <packets> ..."
  std::istringstream words(r->out.substr(r->out.find("RX:")));
  std::string w;
  std::vector<std::string> tokens;
  while (words >> w) tokens.push_back(w);
  for (size_t k = 0; k + 1 < tokens.size(); ++k) {
    if (tokens[k] == "\\" && k + 2 < tokens.size())
      return std::stol(tokens[k + 2]);
  }
  return -1;
}

TEST_F(CrossHostTest, LostTunnelLeaksNoPlaintextAndUnderlayCannotInject) {
  const VmEndpoint& a = *FirstVm("blue", "host1").endpoint;
  const VmEndpoint& b = *FirstVm("blue", "host2").endpoint;
  ASSERT_TRUE(Reaches(a, b));

  // The SA disappears under the controller (a charon fault, an operator):
  // blue's VXLAN traffic must stop, not fall back to the clear.
  const std::string capture = hosts_[0].test_host->dir() + "/lost.pcap";
  auto tcpdump = StartCapture(hosts_[0], capture, {"udp"});
  ASSERT_TRUE(tcpdump.ok()) << tcpdump.status().ToString();
  ASSERT_TRUE(hosts_[0].tunnels->RemoveTunnel("tvd-blue-host2").ok());
  EXPECT_FALSE(a.Ping(b.ipv4(), 3, 1).ok());
  ASSERT_TRUE(tcpdump->Stop().ok());
  ProcessOptions read;
  read.argv = {"tcpdump", "-n", "-r", capture};
  auto dump = RunCommand(read);
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->out.find(".49173"), std::string::npos) << dump->out;

  // Plaintext VXLAN sent to host2's blue port from the underlay must not
  // reach blue's network. The same packet with the guard lifted does, so
  // the check can see an injection.
  auto attacker = testing::NetworkNamespace::Create(UniqueName("atk"));
  ASSERT_TRUE(attacker.ok());
  ASSERT_TRUE(
      underlay_->Attach(attacker->name(), "ul0", "198.18.0.66/24").ok());
  // VXLAN header (I flag, VNI 5021) + a broadcast ARP request frame.
  const std::string send = R"(
import socket
vni = 5021
hdr = bytes([0x08, 0, 0, 0]) + vni.to_bytes(3, 'big') + bytes([0])
eth = b'\xff' * 6 + bytes.fromhex('02aabbccddee') + b'\x08\x06'
arp = bytes.fromhex('0001080006040001') + bytes.fromhex('02aabbccddee') + \
      bytes([198, 19, 0, 99]) + b'\x00' * 6 + bytes([198, 19, 0, 1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    s.sendto(hdr + eth + arp, ('198.18.0.2', 49173))
)";
  long rx_before = RxPackets(hosts_[1], "tvx5021");
  ASSERT_GE(rx_before, 0);
  ASSERT_TRUE(attacker->Run({"python3", "-c", send}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(RxPackets(hosts_[1], "tvx5021"), rx_before);

  ASSERT_TRUE(hosts_[1].links->RemoveVxlanGuard(49173).ok());
  ASSERT_TRUE(attacker->Run({"python3", "-c", send}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(RxPackets(hosts_[1], "tvx5021"), rx_before);

  // Reconciling both hosts restores the guard and the tunnel.
  for (int i : {1, 0}) ASSERT_TRUE(Apply(i, Desired(i)).ok());
  auto guards = hosts_[1].links->ListVxlanGuards();
  ASSERT_TRUE(guards.ok());
  EXPECT_EQ(*guards, (std::vector<std::uint16_t>{49173, 49174}));
  EXPECT_TRUE(Reaches(a, b));
}

}  // namespace
}  // namespace tvd::vswitch
