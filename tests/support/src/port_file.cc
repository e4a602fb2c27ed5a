#include "tvd/testing/port_file.h"

#include <thread>

#include "tvd/daemon/port_file.h"
#include "tvd/testing/files.h"

namespace tvd::testing {
namespace {

// Gone or a zombie (exited, not yet reaped by its parent, the test).
bool HasExited(pid_t pid) {
  const std::string stat =
      ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ||
         stat[close + 2] == 'Z' || stat[close + 2] == 'X';
}

}  // namespace

StatusOr<std::uint16_t> WaitForPortFile(const std::string& path,
                                        std::chrono::milliseconds timeout,
                                        pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    StatusOr<std::uint16_t> port = daemon::ParsePortFile(ReadFileOrEmpty(path));
    if (port.ok()) return port;
    if (pid > 0 && HasExited(pid)) {
      return Unavailable("process " + std::to_string(pid) +
                         " exited before writing " + path);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Timeout("no port in " + path + " after " +
                     std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace tvd::testing
