// proxy-factory as a daemon: its flags and the wiring of the control socket
// to ProxyFactory (proxy_factory.h), in the library so tests start it the
// way main does (daemon/run_daemon.h).
//
//   proxy-factory [--socket PATH] [--run-dir DIR] [--group NAME]
//                 [--proxy PATH] [--proxy-arg ARG]... [--state-dir DIR]
//                 [--master ADDRESS:PORT[,ADDRESS:PORT...]]
//
// --master names the TVD master, or its replicas in the order to try them
// (at most 16, no two the same: daemon/endpoint_list.h); every proxy gets
// it as its own --master and fails over across it
// (tvd-proxy/master_client_link.h). It is checked when the factory starts,
// not when the first proxy does. The masters may also be given as
// --proxy-arg=--master=LIST (checked the same way), but not both ways.
//
// It serves requests and supervises its proxies in one loop until SIGTERM or
// SIGINT, then stops the proxies (the memberships stay for the next start).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/run_daemon.h"

namespace tvd::host {

struct FactoryFlags {
  std::string socket = "/run/tvd/proxy-factory.sock";
  std::string run_dir = "/run/tvd/proxies";
  std::optional<gid_t> group;  // --group NAME, resolved while parsing
  std::string proxy;           // default: DefaultProxyBinary()
  std::vector<std::string> proxy_args;
  std::string state_dir;  // passed on to every proxy as --state-dir
  // Passed on to every proxy as --master=LIST; empty: not given.
  std::vector<daemon::Endpoint> masters;
};

// tvd-proxy beside this binary's build folder (../tvd-proxy/tvd-proxy) when
// that is executable, else tvd-proxy in this binary's folder.
std::string DefaultProxyBinary();

// The start of every proxy's command line (ProcessProxyLauncher adds
// --tvd and --socket): the binary, the --proxy-arg values in order, then
// --state-dir=DIR and --master=LIST (the list in its text form) when given.
std::vector<std::string> ProxyArgvPrefix(const FactoryFlags& flags);

// Creates the run directory (mode 0700), listens on the control socket and
// gives the TVDs joined before a restart their proxies back. Errors:
// InvalidArgument "--proxy-arg=--master: WHY" for a bad list given that
// way, "--master is given both as --master and as --proxy-arg" (nothing
// created); IoError "cannot create DIR: ..." and ControlServer::Listen's.
StatusOr<daemon::DaemonPtr> StartFactoryDaemon(const FactoryFlags& flags);

// The flags and Start that proxy-factory's main hands to RunDaemon.
daemon::DaemonSpec<FactoryFlags> FactoryDaemonSpec();

}  // namespace tvd::host
