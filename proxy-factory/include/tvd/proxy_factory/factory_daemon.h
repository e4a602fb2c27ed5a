// proxy-factory as a daemon: its flags and the wiring of the control socket
// to ProxyFactory (proxy_factory.h), in the library so tests start it the
// way main does (daemon/run_daemon.h).
//
//   proxy-factory [--socket PATH] [--run-dir DIR] [--group NAME]
//                 [--proxy PATH] [--proxy-arg ARG]... [--state-dir DIR]
//
// It serves requests and supervises its proxies in one loop until SIGTERM or
// SIGINT, then stops the proxies (the memberships stay for the next start).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tvd/daemon/run_daemon.h"

namespace tvd::host {

struct FactoryFlags {
  std::string socket = "/run/tvd/proxy-factory.sock";
  std::string run_dir = "/run/tvd/proxies";
  std::optional<gid_t> group;  // --group NAME, resolved while parsing
  std::string proxy;           // default: DefaultProxyBinary()
  std::vector<std::string> proxy_args;
  std::string state_dir;  // passed on to every proxy as --state-dir
};

// tvd-proxy beside this binary's build folder (../tvd-proxy/tvd-proxy) when
// that is executable, else tvd-proxy in this binary's folder.
std::string DefaultProxyBinary();

// Creates the run directory (mode 0700), listens on the control socket and
// gives the TVDs joined before a restart their proxies back. Errors: IoError
// "cannot create DIR: ..." and ControlServer::Listen's.
StatusOr<daemon::DaemonPtr> StartFactoryDaemon(const FactoryFlags& flags);

// The flags and Start that proxy-factory's main hands to RunDaemon.
daemon::DaemonSpec<FactoryFlags> FactoryDaemonSpec();

}  // namespace tvd::host
