// The daemon around Master: configuration, credentials, KEK, EK allowlist,
// signal handling. Kept in the library so tests can run it.
#pragma once

#include <string>

#include "tvd/master/config.h"
#include "tvd/master/master.h"

namespace tvd::master {

// Builds MasterOptions from a parsed configuration (reads the PEM files, the
// KEK and the EK allowlist). Errors name the file.
StatusOr<MasterOptions> OptionsFromConfig(const MasterConfig& config);

// Loads `config_path`, starts the master, blocks SIGTERM/SIGINT and waits
// for one, then stops cleanly. Exit code: 0 after a clean stop, 1 when the
// start failed (the reason is logged).
int RunMaster(const std::string& config_path);

}  // namespace tvd::master
