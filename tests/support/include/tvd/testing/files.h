// Small file and polling helpers tests share (logs, config files, state
// that a daemon writes while the test waits for it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::testing {

// The whole file at `path`; empty when it cannot be read (a log a daemon
// has not written yet reads as empty, which the caller's assertion shows).
std::string ReadFileOrEmpty(const std::string& path);

// Writes `text` to `path` (created or truncated) and sets `mode`. Errors:
// IoError "cannot write PATH", or the chmod's errno naming the path.
Status WriteFileWithMode(const std::string& path, std::string_view text,
                         mode_t mode);

// WriteFileWithMode for a test: when it fails the current test fails,
// naming the path (ADD_FAILURE).
void WriteTestFile(const std::string& path, std::string_view text,
                   mode_t mode = 0644);

// Calls `done` every `poll` until it returns true or `timeout` passes;
// returns its last answer (so a condition met exactly at the deadline
// counts).
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(50));

}  // namespace tvd::testing
