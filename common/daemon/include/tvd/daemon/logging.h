// The one logging setup of every daemon (tvd/log.h underneath): lines go to
// stderr as "<level> <component>: <message>", so journald and the test
// fixtures read every daemon the same way.
#pragma once

#include <optional>
#include <string_view>

#include "tvd/log.h"
#include "tvd/status.h"

namespace tvd::daemon {

// "debug", "info", "warning" or "error". Error: InvalidArgument "'TEXT' is
// not one of debug, info, warning, error".
StatusOr<log::Level> ParseLogLevel(std::string_view text);

// Names the component ("tvd-master", "tvd-proxy[blue]") and, when given,
// sets the level (--log-level; otherwise TVD_LOG_LEVEL or info).
void SetUpLogging(std::string_view component,
                  std::optional<log::Level> level = std::nullopt);

}  // namespace tvd::daemon
