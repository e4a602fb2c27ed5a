// vSwitch figures, measured against real daemons in network namespaces:
//  1. plugging N ports (default 500) into a bridge: one batched OVSDB
//     transaction through OvsdbClient (waiting until ovs-vswitchd applied
//     it) vs one `ovs-vsctl add-port` process per port (which also waits),
//     on the same veth devices in the same run;
//  2. time from "add host to TVD" (JoinTvd + plug one VM on the new host,
//     the existing member told about the new peer) to the first ping
//     passing between VMs on the two hosts, through VXLAN in IPsec.
// Usage: vswitch_bench [ports] [repetitions]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tvd/testing/charon.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/vswitch/network/host_network.h"
#include "tvd/vswitch/network/ovsdb_vswitch_database.h"
#include "tvd/vswitch/openflow/openflow_client.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"
#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace {

using namespace tvd;
using namespace tvd::vswitch;
using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}
#define CHECK_OK(expr)            \
  do {                            \
    ::tvd::Status s_ = (expr);    \
    if (!s_.ok()) Die(#expr, s_); \
  } while (0)

std::string Port(int i) { return "bp" + std::to_string(i); }

// Ports through one batched transaction; returns seconds.
double PlugBatched(OvsdbClient& client, const std::string& bridge_uuid, int n) {
  namespace db = ovsdb;
  Json ops = Json::array();
  std::vector<Json> refs;
  for (int i = 0; i < n; ++i) {
    std::string s = std::to_string(i);
    ops.push_back(db::Insert("Interface", {{"name", Port(i)}}, "i" + s));
    ops.push_back(db::Insert(
        "Port",
        {{"name", Port(i)},
         {"tag", 1 + i % 4000},
         {"interfaces", db::NamedUuid("i" + s)},
         {"external_ids", db::StringMap({{"tvd", "bench"}, {"vm", s}})}},
        "p" + s));
    refs.push_back(db::NamedUuid("p" + s));
  }
  ops.push_back(db::Mutate(
      "Bridge", db::Where("_uuid", "==", db::Uuid(bridge_uuid)),
      Json::array({Json::array({"ports", "insert", db::Set(refs)})})));
  auto t0 = SteadyClock::now();
  auto r = client.TransactAndWaitApplied(ops, std::chrono::seconds(120));
  double secs = Seconds(SteadyClock::now() - t0).count();
  if (!r.ok()) Die("batched transaction", r.status());
  return secs;
}

double PlugOneProcessEach(testing::OvsInstance& ovs, const std::string& bridge,
                          int n) {
  auto t0 = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    ProcessOptions o;
    o.argv = {"ovs-vsctl",
              "--db=unix:" + ovs.db_socket(),
              "add-port",
              bridge,
              Port(i),
              "tag=" + std::to_string(1 + i % 4000),
              "--",
              "set",
              "Port",
              Port(i),
              "external_ids:tvd=bench",
              "external_ids:vm=" + std::to_string(i)};
    auto r = RunCommand(o);
    if (!r.ok() || r->exit_status != 0) {
      Die("ovs-vsctl add-port", r.ok() ? IoError(r->err) : r.status());
    }
  }
  return Seconds(SteadyClock::now() - t0).count();
}

void PortsBenchmark(int n, int reps) {
  auto ns = testing::NetworkNamespace::Create(testing::UniqueName("bvs"));
  if (!ns.ok()) Die("netns", ns.status());
  auto ovs = testing::OvsInstance::Start(ns->name(), "/tmp/tvd-" + ns->name());
  if (!ovs.ok()) Die("ovs", ovs.status());
  // The devices exist before either method runs, as VM taps would.
  {
    std::string batch;
    for (int i = 0; i < n; ++i) {
      batch += "link add " + Port(i) + " type veth peer name bq" +
               std::to_string(i) + "\nlink set " + Port(i) + " up\n";
    }
    std::string path = (*ovs)->dir() + "/links.batch";
    std::ofstream(path) << batch;
    CHECK_OK(ns->Run({"ip", "-batch", path}));
  }
  CHECK_OK((*ovs)
               ->Vsctl({"add-br", "bb", "--", "set", "bridge", "bb",
                        "datapath_type=netdev", "fail_mode=secure"})
               .status());
  auto client = OvsdbClient::Connect({.socket_path = (*ovs)->db_socket()});
  if (!client.ok()) Die("connect", client.status());
  auto uuid_out = (*ovs)->Vsctl({"get", "bridge", "bb", "_uuid"});
  if (!uuid_out.ok()) Die("bridge uuid", uuid_out.status());
  std::string bridge_uuid = uuid_out->substr(0, uuid_out->find('\n'));

  auto remove_all = [&] {
    namespace db = ovsdb;
    CHECK_OK(
        (*client)
            ->TransactAndWaitApplied(
                Json::array({db::Update(
                    "Bridge", db::Where("_uuid", "==", db::Uuid(bridge_uuid)),
                    {{"ports", db::EmptySet()}})}),
                std::chrono::seconds(120))
            .status());
  };
  std::printf("plugging %d ports (veth devices, netdev datapath), %d runs\n", n,
              reps);
  for (int r = 0; r < reps; ++r) {
    double batched = PlugBatched(**client, bridge_uuid, n);
    remove_all();
    double vsctl = PlugOneProcessEach(**ovs, "bb", n);
    remove_all();
    std::printf(
        "run %d: OVSDB batched %.3f s (%.0f ports/s) | ovs-vsctl per port "
        "%.3f s (%.0f ports/s) | ratio %.1fx\n",
        r + 1, batched, n / batched, vsctl, n / vsctl, vsctl / batched);
  }
}

struct BenchHost {
  std::unique_ptr<testing::TestHost> host;
  std::unique_ptr<testing::CharonInstance> charon;
  std::unique_ptr<vici::ViciTunnelBackend> tunnels;
  std::unique_ptr<OvsdbClient> ovsdb;
  std::unique_ptr<OvsdbVswitchDatabase> db;
  std::unique_ptr<OpenFlowClient> flows;
  std::unique_ptr<IpLinkManager> links;
  std::unique_ptr<HostNetwork> network;
  std::unique_ptr<testing::VmEndpoint> vm;
};

BenchHost MakeHost(const std::string& name, testing::TestUnderlay& underlay,
                   const std::string& address) {
  BenchHost h;
  auto th = testing::TestHost::Create(name, &underlay, address);
  if (!th.ok()) Die("host", th.status());
  h.host = std::move(th).value();
  auto charon = testing::CharonInstance::Start(h.host->ns());
  if (!charon.ok()) Die("charon", charon.status());
  h.charon = std::move(charon).value();
  auto tunnels = vici::ViciTunnelBackend::Connect(h.charon->vici_socket());
  if (!tunnels.ok()) Die("vici", tunnels.status());
  h.tunnels = std::move(tunnels).value();
  auto ovsdb = OvsdbClient::Connect({.socket_path = h.host->ovs().db_socket()});
  if (!ovsdb.ok()) Die("ovsdb", ovsdb.status());
  h.ovsdb = std::move(ovsdb).value();
  h.db = std::make_unique<OvsdbVswitchDatabase>(*h.ovsdb);
  h.flows = OpenFlowClient::Create(
      {.socket_path = h.host->ovs().mgmt_socket("br-tvd")});
  h.links = std::make_unique<IpLinkManager>(h.host->ns().name());
  HostNetwork::Config cfg;
  cfg.local_host = name;
  cfg.local_address = address;
  h.network = std::make_unique<HostNetwork>(cfg, *h.db, *h.flows, *h.links,
                                            *h.tunnels, nullptr);
  CHECK_OK(h.network->EnsureBridge());
  return h;
}

void TimeToFirstPing(int reps) {
  SecureBytes psk = SecureBytes::Random(32);
  std::printf("add host to TVD -> first cross-host ping, %d runs\n", reps);
  for (int r = 0; r < reps; ++r) {
    auto underlay = testing::TestUnderlay::Create();
    if (!underlay.ok()) Die("underlay", underlay.status());
    BenchHost a = MakeHost("host1", **underlay, "198.18.0.1");
    BenchHost b = MakeHost("host2", **underlay, "198.18.0.2");
    auto spec = [&](const BenchHost& self, const BenchHost* peer) {
      TvdSpec t;
      t.tvd = "blue";
      t.tvd_id = 21;
      t.networks = {{"data", 5021}};
      t.ike_proposals = {"aes256gcm16-prfsha256-ecp256"};
      t.esp_proposals = {"aes256gcm16"};
      if (peer) {
        t.peers = {{peer->host->name(), peer->host->address(), &psk}};
      }
      (void)self;
      return t;
    };
    auto make_vm = [&](BenchHost& h, const std::string& mac,
                       const std::string& ip) {
      auto vm = testing::VmEndpoint::Create(h.host->ns().name(),
                                            testing::UniqueName("bv"), mac, ip);
      if (!vm.ok()) Die("vm", vm.status());
      h.vm = std::move(vm).value();
    };
    // host1 is already a member with a running VM.
    CHECK_OK(a.network->JoinTvd(spec(a, nullptr)));
    make_vm(a, "02:00:00:00:01:01", "198.19.0.1");
    CHECK_OK(a.network->PlugVmPort(
        {a.vm->host_port(), "blue", "data", "va", a.vm->mac(), a.vm->ipv4()}));
    make_vm(b, "02:00:00:00:02:01", "198.19.0.2");

    auto t0 = SteadyClock::now();
    CHECK_OK(b.network->JoinTvd(spec(b, &a)));  // responder
    CHECK_OK(b.network->PlugVmPort(
        {b.vm->host_port(), "blue", "data", "vb", b.vm->mac(), b.vm->ipv4()}));
    CHECK_OK(a.network->JoinTvd(spec(a, &b)));  // initiator, told of host2
    auto joined = SteadyClock::now();
    bool ok = false;
    while (Seconds(SteadyClock::now() - t0).count() < 30) {
      if (b.vm->ns()
              .Run({"ping", "-n", "-q", "-c", "1", "-W", "0.2", a.vm->ipv4()})
              .ok()) {
        ok = true;
        break;
      }
    }
    double total = Seconds(SteadyClock::now() - t0).count();
    double config = Seconds(joined - t0).count();
    if (!ok) Die("first ping", Timeout("no ping within 30 s"));
    std::printf("run %d: %.3f s to first ping (configuration %.3f s)\n", r + 1,
                total, config);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int ports = argc > 1 ? std::atoi(argv[1]) : 500;
  int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  PortsBenchmark(ports, reps);
  TimeToFirstPing(reps);
  return 0;
}
