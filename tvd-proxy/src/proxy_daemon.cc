#include "tvd/proxy/proxy_daemon.h"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "tvd/attest/attester.h"
#include "tvd/attest/esys_tpm.h"
#include "tvd/channel/tls_context.h"
#include "tvd/clock.h"
#include "tvd/daemon/endpoint_list.h"
#include "tvd/host/control_socket.h"
#include "tvd/log.h"
#include "tvd/protocol/master_client.h"
#include "tvd/proxy/admission_store.h"
#include "tvd/proxy/libvirt_hypervisor.h"
#include "tvd/proxy/master_channel.h"
#include "tvd/proxy/master_client_link.h"
#include "tvd/proxy/measurement_cache.h"
#include "tvd/proxy/per_call_tpm.h"
#include "tvd/proxy/proxy_network_stack.h"
#include "tvd/proxy/tvd_network.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/proxy/update_inbox.h"
#include "tvd/proxy/usage_claims.h"

namespace tvd::proxy {

namespace {

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

StatusOr<channel::TlsCredentials> ReadCredentials(const ProxyFlags& f) {
  channel::TlsCredentials creds;
  TVD_ASSIGN_OR_RETURN(creds.ca_cert_pem, ReadText(f.ca));
  TVD_ASSIGN_OR_RETURN(creds.cert_pem, ReadText(f.cert));
  TVD_ASSIGN_OR_RETURN(std::string key, ReadText(f.key));
  creds.key_pem = SecureBytes(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  std::fill(key.begin(), key.end(), '\0');
  return creds;
}

// Everything the proxy uses, owned in the order it is built (and torn down
// in reverse: the serving threads first, libvirt last).
class ProxyDaemon : public daemon::Daemon {
 public:
  explicit ProxyDaemon(ProxyFlags flags) : f_(std::move(flags)) {}
  ~ProxyDaemon() override { Stop(); }

  Status Start(const channel::TlsCredentials& creds) {
    TVD_ASSIGN_OR_RETURN(
        hypervisor_, LibvirtHypervisor::Open(f_.libvirt_uri, f_.secrets_uri));
    hypervisor_->set_channel_dir(f_.libvirt_channel_dir);
    ProxyNetworkEndpoints endpoints;
    endpoints.ovsdb_socket = f_.ovsdb;
    endpoints.openflow_socket = f_.openflow;
    endpoints.netns = f_.netns;
    endpoints.vici_socket = f_.vici;
    endpoints.config.bridge = f_.bridge;
    endpoints.config.datapath_type = f_.datapath;
    endpoints.config.local_host = f_.host;
    endpoints.config.local_address = f_.address;
    TVD_ASSIGN_OR_RETURN(network_, ProxyNetworkStack::Connect(endpoints));
    TVD_RETURN_IF_ERROR(ConnectMaster(creds));
    // Which VMs this proxy admitted: read again after a restart, the only
    // source of the ports it re-plugs.
    admissions_ = std::make_unique<FileAdmissionStore>(f_.state_dir, f_.tvd);
    vtpms_ = std::make_unique<SwtpmVtpmStates>(f_.vtpm_storage_dir);
    proxy_ = std::make_unique<TvdProxy>(
        ProxyConfig{
            .tvd = f_.tvd, .local_host = f_.host, .local_address = f_.address},
        *link_, *hypervisor_, network_->network(), cache_, *admissions_,
        std::make_shared<SteadyClock>(), vtpms_.get());
    // The link's thread only queues; Run applies (update_inbox.h).
    link_->SetUpdateHandler([this](const MasterUpdate& u) { inbox_.Push(u); });
    // Joining again after a restart reconciles: JoinTvd is idempotent and
    // the admitted VMs (and only those) get their ports back.
    TVD_RETURN_IF_ERROR(proxy_->Join());
    // Only the factory (same uid) and root talk to a proxy.
    TVD_ASSIGN_OR_RETURN(server_, host::ControlServer::Listen(f_.socket, {}));
    if (!f_.usage_socket.empty()) {
      // Quota claims of the host's relay, on their own socket and thread:
      // they touch nothing of TvdProxy, only the master link (thread-safe
      // there).
      TVD_ASSIGN_OR_RETURN(usage_server_,
                           host::ControlServer::Listen(f_.usage_socket, {}));
      usage_thread_ = std::thread([this] {
        usage_server_->Serve(
            [this](const host::ControlRequest& req,
                   const host::PeerCredentials&) {
              return HandleUsageClaim(*link_, f_.tvd, req);
            },
            usage_stop_);
      });
    }
    return Status::Ok();
  }

  Status Run(daemon::StopSignals& signals) override {
    auto handler = [this](const host::ControlRequest& req,
                          const host::PeerCredentials&) {
      return proxy_->Handle(req);
    };
    while (!proxy_->left()) {
      pollfd fds[3] = {{server_->fd(), POLLIN, 0},
                       {inbox_.fd(), POLLIN, 0},
                       {signals.fd(), POLLIN, 0}};
      ::poll(fds, 3, 200);
      if (std::optional<int> sig = signals.Poll()) {
        log::Info("signal ", *sig, "; exiting");
        return Status::Ok();
      }
      for (const MasterUpdate& u : inbox_.Drain()) proxy_->OnMasterUpdate(u);
      if (proxy_->left()) break;
      server_->ServeOne(handler, std::chrono::milliseconds(0));
      proxy_->RetryPendingNetwork();
    }
    log::Info("left; exiting");
    return Status::Ok();
  }

  void Stop() override {
    usage_stop_ = true;
    if (usage_thread_.joinable()) usage_thread_.join();
  }

 private:
  Status ConnectMaster(const channel::TlsCredentials& creds) {
    TVD_ASSIGN_OR_RETURN(
        tls_, channel::TlsContext::Create(channel::TlsSide::kClient, creds));
    attest::Tpm* tpm = nullptr;
    if (f_.tcti != "none") {
      // Opened per call: the other proxies of this host share the TPM. The
      // EK and AK are created once and loaded from their saved contexts
      // afterwards (tpm_key_cache.h).
      attest::EsysTpmOptions options{
          .tcti = f_.tcti,
          .key_cache = std::make_shared<attest::TpmKeyCache>()};
      tpm_ = std::make_unique<PerCallTpm>(
          [options]() -> StatusOr<std::unique_ptr<attest::Tpm>> {
            TVD_ASSIGN_OR_RETURN(auto esys, attest::EsysTpm::Open(options));
            return std::unique_ptr<attest::Tpm>(std::move(esys));
          });
      // Fail at start-up, not at the first attestation, on a wrong --tcti;
      // and create both keys now, not during the first join.
      TVD_RETURN_IF_ERROR(tpm_->EkPublic().status());
      TVD_RETURN_IF_ERROR(tpm_->AkPublic().status());
      tpm = tpm_.get();
    }
    attest::AttesterOptions attester_options;
    if (!f_.ima_log.empty()) attester_options.ima_log_path = f_.ima_log;
    if (!f_.event_log.empty()) {
      attester_options.event_log_path = f_.event_log;
    }
    attester_ = std::make_unique<attest::Attester>(tpm, attester_options);
    // One client per replica: each holds its own member channel.
    std::vector<MasterChannelPtr> masters;
    for (const daemon::Endpoint& m : f_.masters) {
      masters.push_back(std::make_unique<MasterClientChannel>(
          f_.host,
          protocol::MasterEndpoint{
              m.address, m.port, {pki::Role::kHost, f_.master_name}},
          *tls_, *attester_));
    }
    link_ = std::make_unique<MasterClientLink>(std::move(masters), f_.address);
    return Status::Ok();
  }

  const ProxyFlags f_;
  std::unique_ptr<LibvirtHypervisor> hypervisor_;
  std::unique_ptr<ProxyNetworkStack> network_;
  // Before the link: the link's thread pushes here until it is joined.
  MasterUpdateInbox inbox_;
  std::unique_ptr<channel::TlsContext> tls_;
  std::unique_ptr<attest::Tpm> tpm_;
  std::unique_ptr<attest::Attester> attester_;
  std::unique_ptr<MasterClientLink> link_;
  MeasurementCache cache_;
  std::unique_ptr<FileAdmissionStore> admissions_;
  std::unique_ptr<SwtpmVtpmStates> vtpms_;
  std::unique_ptr<TvdProxy> proxy_;
  std::unique_ptr<host::ControlServer> server_;
  std::unique_ptr<host::ControlServer> usage_server_;
  std::atomic<bool> usage_stop_{false};
  std::thread usage_thread_;
};

}  // namespace

StatusOr<daemon::DaemonPtr> StartProxyDaemon(const ProxyFlags& flags) {
  log::SetComponent("tvd-proxy[" + flags.tvd + "]");
  ProxyFlags f = flags;
  if (f.openflow.empty()) {
    f.openflow = "/var/run/openvswitch/" + f.bridge + ".mgmt";
  }
  // The files first: a wrong path fails before anything is touched.
  TVD_ASSIGN_OR_RETURN(channel::TlsCredentials creds, ReadCredentials(f));
  auto d = std::make_unique<ProxyDaemon>(std::move(f));
  TVD_RETURN_IF_ERROR(d->Start(creds));
  return daemon::DaemonPtr(std::move(d));
}

daemon::DaemonSpec<ProxyFlags> ProxyDaemonSpec() {
  daemon::DaemonSpec<ProxyFlags> spec;
  spec.name = "tvd-proxy";
  spec.summary =
      "Serves one TVD on this host (started by proxy-factory): joins, "
      "admits and attaches VMs, leaves.";
  spec.declare = [](daemon::FlagSet& flags, ProxyFlags& f) {
    flags.String("tvd", &f.tvd, "the TVD this proxy serves").Required();
    flags.Path("socket", &f.socket, "the control socket").Required();
    flags.String("host", &f.host, "this host's id").Required();
    flags.String("address", &f.address, "this host's underlay address")
        .Required();
    flags
        .Custom(
            "master", "ADDRESS:PORT[,...]",
            [&f](std::string_view v) -> Status {
              TVD_ASSIGN_OR_RETURN(f.masters, daemon::ParseEndpointList(v));
              return Status::Ok();
            },
            "the master, or its replicas in the order to try them (at most "
            "16)")
        .Required();
    flags
        .String("master-name", &f.master_name,
                "the name in the master's certificate")
        .Default(f.master_name);
    flags.Path("ca", &f.ca, "the VDC CA (PEM)").Required();
    flags.Path("cert", &f.cert, "this host's certificate (PEM)").Required();
    flags.Path("key", &f.key, "this host's private key (PEM)").Required();
    flags.String("tcti", &f.tcti, "the TPM's TCTI, or none").Default(f.tcti);
    flags.String("libvirt-uri", &f.libvirt_uri, "libvirt")
        .Default(f.libvirt_uri);
    flags.String("secrets-uri", &f.secrets_uri,
                 "the libvirt that holds disk secrets (default: libvirt-uri)");
    flags.Path("ovsdb", &f.ovsdb, "ovsdb-server's socket").Default(f.ovsdb);
    flags.String("bridge", &f.bridge, "the integration bridge")
        .Default(f.bridge);
    flags.Path("openflow", &f.openflow, "the bridge's OpenFlow socket")
        .Default("/var/run/openvswitch/<bridge>.mgmt");
    flags.Path("vici", &f.vici, "charon's VICI socket").Default(f.vici);
    flags.String("netns", &f.netns, "the network namespace of the links");
    flags
        .Custom(
            "datapath", "netdev|system",
            [&f](std::string_view v) -> Status {
              if (v != "netdev" && v != "system") {
                return InvalidArgument("'" + std::string(v) +
                                       "' is not netdev or system");
              }
              f.datapath = std::string(v);
              return Status::Ok();
            },
            "the bridge's datapath type")
        .Default(f.datapath);
    flags.Path("ima-log", &f.ima_log, "the IMA measurement list to send");
    flags.Path("event-log", &f.event_log,
               "the UEFI event log to send (measured boot)");
    flags
        .Path("state-dir", &f.state_dir,
              "root-owned directory of the admission records "
              "(DIR/<tvd>/admitted.json)")
        .Default(f.state_dir);
    flags
        .Path("vtpm-storage-dir", &f.vtpm_storage_dir,
              "libvirt's swtpm storage directory, where the proxy makes the "
              "vTPM state of VMs with <tvd:vtpm/> (DIR/<uuid>/tpm2)")
        .Default(f.vtpm_storage_dir);
    flags
        .Path("libvirt-channel-dir", &f.libvirt_channel_dir,
              "libvirt's channel directory (its qemu channel_target_dir): "
              "where the proxy reaches a VM's attestation socket")
        .Default(f.libvirt_channel_dir);
    flags.Path("usage-socket", &f.usage_socket,
               "where the host's libvirt relay claims quota usage "
               "(usage_claims.h); none when absent");
  };
  spec.start = [](ProxyFlags& f) { return StartProxyDaemon(f); };
  return spec;
}

}  // namespace tvd::proxy
