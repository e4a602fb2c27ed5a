#include "tvd/master/master_main.h"

#include <signal.h>

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
}  // namespace

StatusOr<MasterOptions> OptionsFromConfig(const MasterConfig& config) {
  MasterOptions o;
  o.server.bind_address = config.listen_address;
  o.server.port = config.listen_port;
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
  TVD_ASSIGN_OR_RETURN(o.kek, LoadKek(config.kek_file));
  TVD_ASSIGN_OR_RETURN(o.trusted_eks, LoadEkAllowlist(config.ek_allowlist));
  return o;
}

int RunMaster(const std::string& config_path) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before any thread starts, so every thread inherits the mask and
  // only sigwait below sees the signals.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto config = LoadMasterConfig(config_path);
  if (!config.ok()) {
    log::Error(config.status().ToString());
    return 1;
  }
  auto options = OptionsFromConfig(*config);
  if (!options.ok()) {
    log::Error(options.status().ToString());
    return 1;
  }
  auto master = Master::Start(std::move(options).value());
  if (!master.ok()) {
    log::Error(master.status().ToString());
    return 1;
  }
  log::Info("listening on ", config->listen_address, ":", (*master)->port());
  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("signal ", sig, ": stopping");
  (*master)->Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace tvd::master
