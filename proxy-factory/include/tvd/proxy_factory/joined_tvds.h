// The factory's memory of which TVDs this host joined, so that a restarted
// proxy-factory starts their proxies again (they join again through the
// master and reconcile from OVSDB, charon and libvirt).
//
// File RUN_DIR/joined: one TVD name per line, nothing else (no keys, no
// policy). Written whole to a temporary file in the same directory, synced
// and renamed over the old one, so a crash leaves either the old or the new
// list, never a torn one. Mode 0600.
#pragma once

#include <string>
#include <vector>

#include "tvd/status.h"

namespace tvd::host {

struct JoinedTvds {
  std::vector<std::string> names;  // valid, unique, in file order
  // "PATH:LINE: 'x' is not a valid TVD name" / "... listed twice", one per
  // skipped line; the caller logs them.
  std::vector<std::string> problems;
};

// Parses the file's text; `path` names it in problems. Never fails: a bad
// line is skipped and described, so one damaged line loses only itself.
JoinedTvds ParseJoinedTvds(const std::string& text, const std::string& path);

// Reads RUN_DIR/joined. A missing file is an empty list (first start);
// IoError "cannot open PATH: ..." when it exists but cannot be read.
StatusOr<JoinedTvds> LoadJoinedTvds(const std::string& path);

// Replaces the file atomically with `names`, one per line. ErrnoError naming
// the path and the step that failed; the old file is then unchanged.
Status SaveJoinedTvds(const std::string& path,
                      const std::vector<std::string>& names);

}  // namespace tvd::host
