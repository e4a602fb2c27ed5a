// Writing a file so that readers see either the old file or the complete new
// one, never a half-written file (tvdctl's outputs, the port and endpoints
// files daemons write for their tests and scripts): the data goes to a
// temporary file in the same directory, is flushed to disk, then renamed over
// `path`.
#pragma once

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd {

// The file gets mode 0644 (its content is not secret). Errors: IoError
// naming the path and the failed step ("cannot create PATH.tmp.XXXXXX: No
// such file or directory", "cannot rename into PATH: ..."); the temporary
// file is removed on failure and `path` is left as it was.
Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace tvd
