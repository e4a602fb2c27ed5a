// --port-file PATH: where a daemon that listens on TCP writes the port it
// bound (port 0 in its flags or config lets the kernel choose), so that a
// test or script starts it without first guessing a free port and racing
// another process for it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::daemon {

// Writes "PORT\n" (what RunDaemon writes, Daemon::AddressFileText) with
// WriteFileAtomically (atomic_file.h), so a reader sees
// no file or the whole number, never a part. Errors: its IoError.
Status WritePortFile(const std::string& path, std::uint16_t port);

// Reads what WritePortFile wrote: the decimal port 1..65535 and one
// newline. Error: InvalidArgument "port file 'TEXT' is not PORT\n".
StatusOr<std::uint16_t> ParsePortFile(std::string_view text);

}  // namespace tvd::daemon
