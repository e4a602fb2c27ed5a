// A loopback TCP port for a daemon that cannot report the port it bound.
#pragma once

#include <cstdint>

#include "tvd/status.h"

namespace tvd::testing {

// A port the kernel just handed out on 127.0.0.1 (bound to port 0, read,
// released). Another process may take it before the daemon binds it: prefer
// a daemon's --port-file where it has one. Errors: IoError "socket: ..." or
// "bind 127.0.0.1:0: ...".
StatusOr<std::uint16_t> FreeLoopbackPort();

}  // namespace tvd::testing
