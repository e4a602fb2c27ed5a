#include "tvd/master/master_daemon.h"

#include <fstream>
#include <sstream>

#include "tvd/log.h"
#include "tvd/master/key_wrap.h"

namespace tvd::master {
namespace {

StatusOr<std::string> ReadText(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(std::string(what) + " " + path + " cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class MasterDaemon : public daemon::Daemon {
 public:
  explicit MasterDaemon(std::unique_ptr<Master> master)
      : master_(std::move(master)) {}
  std::uint16_t port() const override { return master_->port(); }
  void Stop() override { master_->Stop(); }

 private:
  std::unique_ptr<Master> master_;
};

}  // namespace

StatusOr<MasterOptions> OptionsFromConfig(const MasterConfig& config) {
  MasterOptions o;
  o.server.bind_address = config.listen_address;
  o.server.port = config.listen_port;
  o.server.max_connections = config.max_connections;
  // When thousands of hosts (re)connect at once (a master restart, a
  // fail-over), 64 handshakes at a time keep the master finishing them
  // within the hosts' timeouts; the rest are closed at once and the hosts
  // try again a second later. A deep accept queue keeps the kernel from
  // dropping their SYNs meanwhile.
  o.server.max_handshakes = 64;
  o.server.listen_backlog = 4096;
  TVD_ASSIGN_OR_RETURN(o.credentials.ca_cert_pem,
                       ReadText(config.ca_cert, "CA certificate"));
  TVD_ASSIGN_OR_RETURN(o.credentials.cert_pem,
                       ReadText(config.cert, "certificate"));
  TVD_ASSIGN_OR_RETURN(std::string key, ReadText(config.key, "private key"));
  o.credentials.key_pem = SecureBytes(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  std::fill(key.begin(), key.end(), '\0');
  o.policy_dir = config.policy_dir;
  o.state_db = config.state_db;
  o.ovsdb_remotes = config.ovsdb_remotes;
  o.run_duties = true;
  o.lock_takeover = std::chrono::milliseconds(config.lock_takeover_ms);
  o.eviction_grace = std::chrono::milliseconds(config.eviction_grace_ms);
  o.store_failover = std::chrono::milliseconds(config.store_failover_ms);
  TVD_ASSIGN_OR_RETURN(o.kek, LoadKek(config.kek_file));
  TVD_ASSIGN_OR_RETURN(o.trusted_eks, LoadEkAllowlist(config.ek_allowlist));
  return o;
}

StatusOr<daemon::DaemonPtr> StartMasterDaemon(const MasterFlags& flags) {
  TVD_ASSIGN_OR_RETURN(MasterConfig config, LoadMasterConfig(flags.config));
  TVD_ASSIGN_OR_RETURN(MasterOptions options, OptionsFromConfig(config));
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<Master> master,
                       Master::Start(std::move(options)));
  log::Info("listening on ", config.listen_address, ":", master->port());
  return daemon::DaemonPtr(std::make_unique<MasterDaemon>(std::move(master)));
}

daemon::DaemonSpec<MasterFlags> MasterDaemonSpec() {
  daemon::DaemonSpec<MasterFlags> spec;
  spec.name = "tvd-master";
  spec.summary =
      "The TVD master: admits hosts to TVDs after attestation, hands out "
      "policies and keys, keeps the registry.";
  spec.listens = true;
  spec.declare = [](daemon::FlagSet& flags, MasterFlags& f) {
    flags.Path("config", &f.config, "the master's config file").Required();
  };
  spec.start = [](MasterFlags& f) { return StartMasterDaemon(f); };
  return spec;
}

}  // namespace tvd::master
