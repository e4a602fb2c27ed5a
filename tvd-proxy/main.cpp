// tvd-proxy: serves one TVD on this host. Started by proxy-factory with
// --tvd and --socket; wires the real libvirt, OVS/OpenFlow, iproute2 and
// charon (VICI) clients into TvdProxy (tvd_proxy.h), joins, then serves its
// control socket until it has left the TVD or gets SIGTERM.
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "tvd/attest/attester.h"
#include "tvd/attest/esys_tpm.h"
#include "tvd/channel/tls_context.h"
#include "tvd/host/control_socket.h"
#include "tvd/log.h"
#include "tvd/protocol/master_client.h"
#include "tvd/proxy/admission_store.h"
#include "tvd/proxy/libvirt_hypervisor.h"
#include "tvd/proxy/master_client_link.h"
#include "tvd/proxy/master_link.h"
#include "tvd/proxy/measurement_cache.h"
#include "tvd/proxy/per_call_tpm.h"
#include "tvd/proxy/tvd_network.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/proxy/update_inbox.h"
#include "tvd/proxy/usage_claims.h"
#include "tvd/vswitch/network/host_network.h"
#include "tvd/vswitch/network/link_manager.h"
#include "tvd/vswitch/network/ovsdb_vswitch_database.h"
#include "tvd/vswitch/openflow/openflow_client.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"
#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

constexpr char kUsage[] =
    "usage: tvd-proxy --tvd NAME --socket PATH --host ID --address ADDR\n"
    "                 [--libvirt-uri URI] [--secrets-uri URI]\n"
    "                 [--ovsdb PATH] [--bridge NAME]\n"
    "                 [--openflow PATH] [--vici PATH] [--netns NAME]\n"
    "                 [--datapath netdev|system]\n"
    "                 --master ADDRESS:PORT [--master-name NAME]\n"
    "                 --ca PEM --cert PEM --key PEM [--tcti TCTI|none]\n"
    "                 [--ima-log PATH] [--state-dir DIR]\n"
    "                 [--usage-socket PATH]\n"
    "  --state-dir DIR  root-owned directory of the admission records\n"
    "                   (DIR/<tvd>/admitted.json; default "
    "/var/lib/tvd/proxy)\n"
    "  --usage-socket PATH  where the host's libvirt relay claims quota\n"
    "                   usage (usage_claims.h); none when absent\n";

tvd::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tvd::IoError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The parts of the master connection that must outlive the link.
struct MasterParts {
  std::unique_ptr<tvd::channel::TlsContext> tls;
  std::unique_ptr<tvd::attest::Tpm> tpm;
  std::unique_ptr<tvd::attest::Attester> attester;
  std::unique_ptr<tvd::protocol::MasterClient> client;
  std::unique_ptr<tvd::proxy::MasterClientLink> link;
};

tvd::StatusOr<MasterParts> ConnectMaster(
    std::map<std::string, std::string>& opt) {
  const std::string& master = opt["--master"];
  auto colon = master.rfind(':');
  if (master.empty() || colon == std::string::npos) {
    return tvd::InvalidArgument("--master ADDRESS:PORT is required");
  }
  int port = std::atoi(master.substr(colon + 1).c_str());
  if (port <= 0 || port > 65535) {
    return tvd::InvalidArgument("--master: bad port in '" + master + "'");
  }
  for (const char* f : {"--ca", "--cert", "--key"}) {
    if (opt[f].empty()) {
      return tvd::InvalidArgument(std::string(f) + " is required");
    }
  }
  MasterParts parts;
  tvd::channel::TlsCredentials creds;
  TVD_ASSIGN_OR_RETURN(creds.ca_cert_pem, ReadText(opt["--ca"]));
  TVD_ASSIGN_OR_RETURN(creds.cert_pem, ReadText(opt["--cert"]));
  TVD_ASSIGN_OR_RETURN(std::string key, ReadText(opt["--key"]));
  creds.key_pem = tvd::SecureBytes(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  std::fill(key.begin(), key.end(), '\0');
  TVD_ASSIGN_OR_RETURN(parts.tls, tvd::channel::TlsContext::Create(
                                      tvd::channel::TlsSide::kClient, creds));
  tvd::attest::Tpm* tpm = nullptr;
  if (opt["--tcti"] != "none") {
    // Opened per call: the other proxies of this host share the TPM.
    std::string tcti = opt["--tcti"];
    parts.tpm = std::make_unique<tvd::proxy::PerCallTpm>(
        [tcti]() -> tvd::StatusOr<std::unique_ptr<tvd::attest::Tpm>> {
          TVD_ASSIGN_OR_RETURN(auto esys,
                               tvd::attest::EsysTpm::Open({.tcti = tcti}));
          return std::unique_ptr<tvd::attest::Tpm>(std::move(esys));
        });
    // Fail at start-up, not at the first attestation, on a wrong --tcti.
    TVD_RETURN_IF_ERROR(parts.tpm->AkPublic().status());
    tpm = parts.tpm.get();
  }
  tvd::attest::AttesterOptions attester_options;
  if (!opt["--ima-log"].empty())
    attester_options.ima_log_path = opt["--ima-log"];
  parts.attester =
      std::make_unique<tvd::attest::Attester>(tpm, attester_options);
  parts.client = std::make_unique<tvd::protocol::MasterClient>(
      opt["--host"],
      tvd::protocol::MasterEndpoint{
          master.substr(0, colon),
          static_cast<std::uint16_t>(port),
          {tvd::pki::Role::kHost, opt["--master-name"]}},
      *parts.tls, *parts.attester);
  parts.link = std::make_unique<tvd::proxy::MasterClientLink>(*parts.client,
                                                              opt["--address"]);
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt = {
      {"--libvirt-uri", "qemu:///system"},
      {"--ovsdb", "/var/run/openvswitch/db.sock"},
      {"--bridge", "br-tvd"},
      {"--vici", "/var/run/charon.vici"},
      {"--datapath", "netdev"},
      {"--master-name", "tvd-master"},
      {"--tcti", "device:/dev/tpmrm0"},
      {"--state-dir", "/var/lib/tvd/proxy"}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    std::string v;
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      std::cerr << "tvd-proxy: " << a << " needs a value\n" << kUsage;
      return 2;
    }
    static const char* kKnown[] = {
        "--tvd",         "--socket",      "--host",    "--address",
        "--libvirt-uri", "--secrets-uri", "--ovsdb",   "--bridge",
        "--openflow",    "--vici",        "--netns",   "--datapath",
        "--master",      "--master-name", "--ca",      "--cert",
        "--key",         "--tcti",        "--ima-log", "--state-dir",
        "--usage-socket"};
    bool known = false;
    for (const char* k : kKnown) known = known || a == k;
    if (!known) {
      std::cerr << "tvd-proxy: unknown option " << a << "\n" << kUsage;
      return 2;
    }
    opt[a] = v;
  }
  for (const char* required : {"--tvd", "--socket", "--host", "--address"}) {
    if (opt[required].empty()) {
      std::cerr << "tvd-proxy: " << required << " is required\n" << kUsage;
      return 2;
    }
  }
  const std::string tvd = opt["--tvd"];
  tvd::log::SetComponent("tvd-proxy[" + tvd + "]");
  if (opt["--openflow"].empty()) {
    opt["--openflow"] = "/var/run/openvswitch/" + opt["--bridge"] + ".mgmt";
  }
  auto fail = [](const tvd::Status& s) {
    tvd::log::Error(s.ToString());
    return 1;
  };

  auto hypervisor = tvd::proxy::LibvirtHypervisor::Open(opt["--libvirt-uri"],
                                                        opt["--secrets-uri"]);
  if (!hypervisor.ok()) return fail(hypervisor.status());
  auto ovsdb =
      tvd::vswitch::OvsdbClient::Connect({.socket_path = opt["--ovsdb"]});
  if (!ovsdb.ok()) return fail(ovsdb.status());
  tvd::vswitch::OvsdbVswitchDatabase db(**ovsdb);
  auto flows =
      tvd::vswitch::OpenFlowClient::Create({.socket_path = opt["--openflow"]});
  tvd::vswitch::IpLinkManager links(opt["--netns"]);
  auto tunnels = tvd::vici::ViciTunnelBackend::Connect(opt["--vici"]);
  if (!tunnels.ok()) return fail(tunnels.status());
  tvd::vswitch::HostNetwork::Config net_config;
  net_config.bridge = opt["--bridge"];
  net_config.datapath_type = opt["--datapath"];
  net_config.local_host = opt["--host"];
  net_config.local_address = opt["--address"];
  // A single proxy knows only its own TVD's policy: gateways between TVDs
  // are refused here (default deny).
  tvd::vswitch::HostNetwork host_network(
      net_config, db, *flows, links, **tunnels,
      [](const std::string&, const std::string&, const std::string&) {
        return false;
      });
  tvd::proxy::HostTvdNetwork network(host_network, links);
  auto master_parts = ConnectMaster(opt);
  if (!master_parts.ok()) return fail(master_parts.status());
  tvd::proxy::MasterLink* master = master_parts->link.get();
  tvd::proxy::MeasurementCache cache;
  // Which VMs this proxy admitted: read again after a restart, the only
  // source of the ports it re-plugs.
  tvd::proxy::FileAdmissionStore admissions(opt["--state-dir"], tvd);
  tvd::proxy::TvdProxy proxy({.tvd = tvd,
                              .local_host = opt["--host"],
                              .local_address = opt["--address"]},
                             *master, **hypervisor, network, cache, admissions,
                             std::make_shared<tvd::SteadyClock>());
  // The link's thread only queues; the loop below applies (update_inbox.h).
  tvd::proxy::MasterUpdateInbox inbox;
  master->SetUpdateHandler(
      [&inbox](const tvd::proxy::MasterUpdate& u) { inbox.Push(u); });
  // Joining again after a restart reconciles: JoinTvd is idempotent and the
  // admitted VMs (and only those) get their ports back.
  if (auto s = proxy.Join(); !s.ok()) return fail(s);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Only the factory (same uid) and root talk to a proxy.
  auto server = tvd::host::ControlServer::Listen(opt["--socket"], {});
  if (!server.ok()) return fail(server.status());
  auto handler = [&proxy](const tvd::host::ControlRequest& req,
                          const tvd::host::PeerCredentials&) {
    return proxy.Handle(req);
  };
  // Quota claims of the host's relay, on their own socket and thread: they
  // touch nothing of TvdProxy, only the master link (thread-safe there).
  std::unique_ptr<tvd::host::ControlServer> usage_server;
  std::thread usage_thread;
  std::atomic<bool> usage_stop{false};
  if (!opt["--usage-socket"].empty()) {
    auto listening =
        tvd::host::ControlServer::Listen(opt["--usage-socket"], {});
    if (!listening.ok()) return fail(listening.status());
    usage_server = std::move(*listening);
    usage_thread = std::thread([&] {
      usage_server->Serve(
          [&](const tvd::host::ControlRequest& req,
              const tvd::host::PeerCredentials&) {
            return tvd::proxy::HandleUsageClaim(*master, tvd, req);
          },
          usage_stop);
    });
  }
  while (!g_stop && !proxy.left()) {
    pollfd fds[2] = {{(*server)->fd(), POLLIN, 0}, {inbox.fd(), POLLIN, 0}};
    ::poll(fds, 2, 200);
    for (const tvd::proxy::MasterUpdate& u : inbox.Drain()) {
      proxy.OnMasterUpdate(u);
    }
    if (proxy.left()) break;
    (*server)->ServeOne(handler, std::chrono::milliseconds(0));
    proxy.RetryPendingNetwork();
  }
  usage_stop = true;
  if (usage_thread.joinable()) usage_thread.join();
  tvd::log::Info(proxy.left() ? "left; exiting" : "SIGTERM; exiting");
  return 0;
}
