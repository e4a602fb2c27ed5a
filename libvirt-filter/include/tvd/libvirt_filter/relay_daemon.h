// libvirt-filter as a daemon: relay_config.h's flags and the wiring around
// RelayServer (the TVD policies, the relay's credentials, the disk image
// checker), in the library so tests start it the way main does
// (daemon/run_daemon.h). It also takes --port-file PATH.
#pragma once

#include "tvd/daemon/run_daemon.h"
#include "tvd/libvirt_filter/relay_config.h"

namespace tvd::libvirt_filter {

// Loads the policy directory and the credentials, then starts serving.
// Errors: LoadPolicyDirectory's, LoadCredentials' (the file that could not
// be read), RelayServer::Start's.
StatusOr<daemon::DaemonPtr> StartRelayDaemon(const RelayConfig& config);

// The flags and Start that libvirt-filter's main hands to RunDaemon.
daemon::DaemonSpec<RelayConfig> RelayDaemonSpec();

}  // namespace tvd::libvirt_filter
