// Writing a file so that readers see either the old file or the complete new
// one, never a half-written file (tvdctl's outputs, the port and endpoints
// files daemons write for their tests and scripts): the data goes to a
// temporary file in the same directory, is flushed to disk, then renamed over
// `path`.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd {

struct AtomicWriteOptions {
  mode_t mode = 0644;  // 0600 for what only root may read
  // Also fsync the directory after the rename, so the new name itself
  // survives a crash (records a restarted daemon relies on).
  bool sync_directory = false;
};

// Errors: IoError naming the path and the failed step ("cannot create
// PATH.tmp.XXXXXX: No such file or directory", "cannot rename into PATH:
// ..."); the temporary file is removed on failure and `path` is left as it
// was.
Status WriteFileAtomically(const std::string& path, std::string_view data,
                           const AtomicWriteOptions& options = {});

}  // namespace tvd
