#include "tvd/rm/daemon_main.h"

#include <signal.h>

#include <charconv>
#include <iostream>
#include <map>

#include "tvd/atomic_file.h"
#include "tvd/log.h"
#include "tvd/rm/rm_agent.h"
#include "tvd/rm/rm_server.h"

namespace tvd::rm {

namespace {

// The running daemon, for the signal handler (RequestStop only stores an
// atomic flag, which is async-signal-safe).
RmServer* g_server = nullptr;
RmAgent* g_agent = nullptr;

void OnStopSignal(int) {
  if (g_server != nullptr) g_server->RequestStop();
  if (g_agent != nullptr) g_agent->RequestStop();
}

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = &OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

struct Flags {
  std::map<std::string, std::string> single;
  std::vector<std::string> properties;
};

// "--name value" pairs; every name must be in `known`.
bool ParseFlags(const std::vector<std::string>& args,
                const std::vector<std::string>& known, Flags& flags,
                std::ostream& err) {
  for (std::size_t i = 0; i < args.size(); i += 2) {
    const std::string& name = args[i];
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      err << "unknown option '" << name << "'\n";
      return false;
    }
    if (i + 1 >= args.size()) {
      err << "option '" << name << "' needs a value\n";
      return false;
    }
    if (name == "--property") {
      flags.properties.push_back(args[i + 1]);
    } else {
      flags.single[name] = args[i + 1];
    }
  }
  return true;
}

bool Require(const Flags& f, std::initializer_list<const char*> names,
             std::ostream& err) {
  for (const char* n : names) {
    if (!f.single.contains(n)) {
      err << "missing required option " << n << "\n";
      return false;
    }
  }
  return true;
}

bool Millis(const Flags& f, const char* name, std::chrono::milliseconds& out,
            std::ostream& err) {
  auto it = f.single.find(name);
  if (it == f.single.end()) return true;
  long v = 0;
  auto [p, ec] = std::from_chars(it->second.data(),
                                 it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size() ||
      v <= 0) {
    err << name << ": expected a positive integer\n";
    return false;
  }
  out = std::chrono::milliseconds(v);
  return true;
}

int Keygen(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    std::cerr << "usage: keygen PREFIX (writes PREFIX.pub, PREFIX.secret)\n";
    return 2;
  }
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  if (!pair.ok()) {
    std::cerr << pair.status().ToString() << "\n";
    return 1;
  }
  if (Status s = WriteKeyPairFiles(args[1], *pair); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  std::cout << pair->public_z85 << "\n";
  return 0;
}

}  // namespace

int RunRmServerMain(const std::vector<std::string>& args) {
  log::SetComponent("rm-server");
  if (!args.empty() && args[0] == "keygen") return Keygen(args);
  Flags f;
  if (!ParseFlags(args,
                  {"--agent-endpoint", "--query-endpoint", "--key", "--agents",
                   "--admins", "--heartbeat-ms", "--missed", "--expiry-ms",
                   "--endpoints-file"},
                  f, std::cerr) ||
      !Require(f,
               {"--agent-endpoint", "--query-endpoint", "--key", "--agents",
                "--admins"},
               std::cerr)) {
    std::cerr << "see rm-agent/include/tvd/rm/daemon_main.h for usage\n";
    return 2;
  }
  RmServerConfig config;
  config.agent_endpoint = f.single["--agent-endpoint"];
  config.query_endpoint = f.single["--query-endpoint"];
  if (!Millis(f, "--heartbeat-ms", config.liveness.heartbeat_interval,
              std::cerr) ||
      !Millis(f, "--expiry-ms", config.liveness.expiry, std::cerr)) {
    return 2;
  }
  if (f.single.contains("--missed")) {
    std::chrono::milliseconds n{};
    if (!Millis(f, "--missed", n, std::cerr)) return 2;
    config.liveness.missed_heartbeats = static_cast<int>(n.count());
  }
  config.tick = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(100), config.liveness.heartbeat_interval);
  StatusOr<CurveKeyPair> keys = LoadKeyPair(f.single["--key"]);
  StatusOr<AllowList> agents = LoadAllowList(f.single["--agents"]);
  StatusOr<AllowList> admins = LoadAllowList(f.single["--admins"]);
  for (const Status& s : {keys.status(), agents.status(), admins.status()}) {
    if (!s.ok()) {
      log::Error(s.ToString());
      return 1;
    }
  }
  config.server_keys = std::move(keys).value();
  config.agents = std::move(agents).value();
  config.admins = std::move(admins).value();
  StatusOr<std::unique_ptr<RmServer>> server =
      RmServer::Create(std::move(config));
  if (!server.ok()) {
    log::Error(server.status().ToString());
    return 1;
  }
  if (f.single.contains("--endpoints-file")) {
    // Whoever waits for this file would otherwise wait forever: fail.
    if (Status s = WriteFileAtomically(f.single["--endpoints-file"],
                                       (*server)->agent_endpoint() + "\n" +
                                           (*server)->query_endpoint() + "\n");
        !s.ok()) {
      log::Error("--endpoints-file: ", s.ToString());
      return 1;
    }
  }
  g_server = server->get();
  InstallStopHandlers();
  Status s = (*server)->Run();
  g_server = nullptr;
  if (!s.ok()) {
    log::Error(s.ToString());
    return 1;
  }
  return 0;
}

int RunRmAgentMain(const std::vector<std::string>& args) {
  log::SetComponent("rm-agent");
  if (!args.empty() && args[0] == "keygen") return Keygen(args);
  Flags f;
  if (!ParseFlags(
          args,
          {"--server", "--server-key", "--key", "--host", "--libvirt-uri",
           "--report-ms", "--heartbeat-ms", "--property"},
          f, std::cerr) ||
      !Require(f,
               {"--server", "--server-key", "--key", "--host", "--libvirt-uri"},
               std::cerr)) {
    std::cerr << "see rm-agent/include/tvd/rm/daemon_main.h for usage\n";
    return 2;
  }
  RmAgentConfig config;
  config.server_endpoint = f.single["--server"];
  config.host = f.single["--host"];
  if (!Millis(f, "--report-ms", config.report_interval, std::cerr) ||
      !Millis(f, "--heartbeat-ms", config.heartbeat_interval, std::cerr)) {
    return 2;
  }
  for (const std::string& p : f.properties) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "--property: expected KEY=VALUE, got '" << p << "'\n";
      return 2;
    }
    config.properties[p.substr(0, eq)] = p.substr(eq + 1);
  }
  StatusOr<std::string> server_key =
      LoadPublicKeyFile(f.single["--server-key"]);
  StatusOr<CurveKeyPair> keys = LoadKeyPair(f.single["--key"]);
  for (const Status& s : {server_key.status(), keys.status()}) {
    if (!s.ok()) {
      log::Error(s.ToString());
      return 1;
    }
  }
  config.server_public_z85 = *server_key;
  config.agent_keys = std::move(keys).value();
  std::unique_ptr<DomainSource> domains =
      MakeLibvirtDomainSource(f.single["--libvirt-uri"]);
  ProcNodeStatusSource node;
  StatusOr<std::unique_ptr<RmAgent>> agent =
      RmAgent::Create(std::move(config), *domains, node);
  if (!agent.ok()) {
    log::Error(agent.status().ToString());
    return 1;
  }
  g_agent = agent->get();
  InstallStopHandlers();
  Status s = (*agent)->Run();
  g_agent = nullptr;
  if (!s.ok()) {
    log::Error(s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace tvd::rm
