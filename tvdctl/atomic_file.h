// Writing a result file so that readers see either the old file or the
// complete new one, never a half-written file: the data goes to a temporary
// file in the same directory, is flushed to disk, then renamed over `path`.
#pragma once

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::tvdctl {

// Errors: IoError naming the path and the failed step; the temporary file is
// removed on failure.
tvd::Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace tvd::tvdctl
