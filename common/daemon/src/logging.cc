#include "tvd/daemon/logging.h"

#include <string>

namespace tvd::daemon {

StatusOr<log::Level> ParseLogLevel(std::string_view text) {
  if (text == "debug") return log::Level::kDebug;
  if (text == "info") return log::Level::kInfo;
  if (text == "warning") return log::Level::kWarning;
  if (text == "error") return log::Level::kError;
  return InvalidArgument("'" + std::string(text) +
                         "' is not one of debug, info, warning, error");
}

void SetUpLogging(std::string_view component, std::optional<log::Level> level) {
  log::SetComponent(component);
  if (level) log::SetLevel(*level);
}

}  // namespace tvd::daemon
