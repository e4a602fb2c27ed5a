// Waiting for a daemon's --port-file (daemon/port_file.h): tests start a
// daemon on port 0 and read the port it bound, instead of picking a free
// port first and racing other processes for it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "tvd/status.h"

namespace tvd::testing {

// Polls `path` until it holds a port (written atomically, so never a part
// of one). Errors: Timeout "no port in PATH after N ms", or, when `pid` is
// given and that process has exited (a zombie counts), Unavailable "process
// PID exited before writing PATH" (reaps nothing: waitpid is the caller's).
StatusOr<std::uint16_t> WaitForPortFile(const std::string& path,
                                        std::chrono::milliseconds timeout,
                                        pid_t pid = -1);

}  // namespace tvd::testing
