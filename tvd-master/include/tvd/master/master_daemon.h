// tvd-master as a daemon: its flags and the wiring around Master
// (configuration, credentials, KEK, EK allowlist), in the library so tests
// start it the way main does (daemon/run_daemon.h).
//
//   tvd-master --config FILE [--port-file PATH] [--log-level LEVEL]
//
// The config file is config.h's; listen_port = 0 lets the kernel choose the
// port, which --port-file then reports.
#pragma once

#include <string>

#include "tvd/daemon/run_daemon.h"
#include "tvd/master/config.h"
#include "tvd/master/master.h"

namespace tvd::master {

struct MasterFlags {
  std::string config;  // --config FILE (required)
};

// Builds MasterOptions from a parsed configuration (reads the PEM files, the
// KEK and the EK allowlist). Errors name the file ("certificate /x cannot be
// read", LoadKek's and LoadEkAllowlist's errors).
StatusOr<MasterOptions> OptionsFromConfig(const MasterConfig& config);

// Loads the config file `flags` names, builds the options and starts the
// master. Errors: the config's, OptionsFromConfig's or Master::Start's.
StatusOr<daemon::DaemonPtr> StartMasterDaemon(const MasterFlags& flags);

// The flags and Start that tvd-master's main hands to RunDaemon.
daemon::DaemonSpec<MasterFlags> MasterDaemonSpec();

}  // namespace tvd::master
