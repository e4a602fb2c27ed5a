// rm-server and rm-agent as daemons: their flags and wiring, in the library
// so tests start them the way their mains do (daemon/run_daemon.h). Exit: 0
// clean stop (SIGTERM/SIGINT), 1 failure, 2 usage.
//
//   rm-server keygen PREFIX
//   rm-server --agent-endpoint E --query-endpoint E --key PREFIX
//             --agents ALLOWLIST --admins ALLOWLIST
//             [--heartbeat-ms 1000] [--missed 3] [--expiry-ms 30000]
//             [--endpoints-file PATH]   (writes the bound endpoints, 2 lines)
//
//   rm-agent keygen PREFIX
//   rm-agent --server E --server-key FILE.pub --key PREFIX --host NAME
//            --libvirt-uri URI [--report-ms 2000] [--heartbeat-ms 1000]
//            [--property KEY=VALUE]...
//
// Endpoints are ZeroMQ's ("tcp://127.0.0.1:*"); the -ms flags are durations
// (a bare number is milliseconds, "2s" works too), at least 1 ms.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tvd/daemon/run_daemon.h"

namespace tvd::rm {

struct RmServerFlags {
  std::string agent_endpoint;
  std::string query_endpoint;
  std::string key;
  std::string agents;
  std::string admins;
  std::chrono::milliseconds heartbeat{1000};
  int missed = 3;
  std::chrono::milliseconds expiry{30000};
  // --endpoints-file is RunDaemon's (its address file), not an option here.
};

struct RmAgentFlags {
  std::string server;
  std::string server_key;
  std::string key;
  std::string host;
  std::string libvirt_uri;
  std::chrono::milliseconds report{2000};
  std::chrono::milliseconds heartbeat{1000};
  std::map<std::string, std::string> properties;
};

// Loads the key pair and allow-lists and binds (RunDaemon then writes
// --endpoints-file). Errors: the loaders', RmServer::Create's.
StatusOr<daemon::DaemonPtr> StartRmServer(const RmServerFlags& flags);
// Loads the keys and starts reporting to the server.
StatusOr<daemon::DaemonPtr> StartRmAgent(const RmAgentFlags& flags);

daemon::DaemonSpec<RmServerFlags> RmServerDaemonSpec();
daemon::DaemonSpec<RmAgentFlags> RmAgentDaemonSpec();

// `keygen PREFIX` (args[0] == "keygen"): writes PREFIX.pub and
// PREFIX.secret and prints the public key. Exit code as the daemons'.
int RunKeygen(const std::vector<std::string>& args);

// The whole command line of a binary: keygen, or the daemon.
int RunRmServerMain(const std::vector<std::string>& args);
int RunRmAgentMain(const std::vector<std::string>& args);

}  // namespace tvd::rm
