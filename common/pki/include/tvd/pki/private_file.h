// Writing files that must not be overwritten or read by others.
#pragma once

#include <span>
#include <string>

#include "tvd/status.h"

namespace tvd::pki {

// Creates `path` with O_CREAT|O_EXCL|O_NOFOLLOW and `mode` (0600 for keys;
// the mode is also forced with fchmod so a permissive umask cannot widen it
// and a restrictive one cannot narrow a public certificate), writes `data`
// and fsyncs. AlreadyExists when the path exists (nothing is replaced);
// IoError otherwise. On a failed write the partial file is removed.
Status WriteNewFile(const std::string& path, std::span<const std::uint8_t> data,
                    unsigned mode);

// Reads a whole file (at most 1 MiB; larger is InvalidArgument).
StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace tvd::pki
