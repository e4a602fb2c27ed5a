#include "tvd/daemon/port_file.h"

#include "tvd/atomic_file.h"
#include "tvd/daemon/values.h"

namespace tvd::daemon {

Status WritePortFile(const std::string& path, std::uint16_t port) {
  return WriteFileAtomically(path, std::to_string(port) + "\n");
}

StatusOr<std::uint16_t> ParsePortFile(std::string_view text) {
  if (text.ends_with("\n")) {
    if (auto port = ParseInteger(text.substr(0, text.size() - 1), 1, 65535);
        port.ok() && !text.starts_with("-")) {
      return static_cast<std::uint16_t>(*port);
    }
  }
  return InvalidArgument("port file '" + std::string(text) +
                         "' is not PORT\\n");
}

}  // namespace tvd::daemon
