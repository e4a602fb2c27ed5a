#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tvd/rm/node_sources.h"

namespace tvd::rm {

StatusOr<NodeStatus> ProcNodeStatusSource::ReadStatus() {
  NodeStatus s;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  s.cpus = cpus > 0 ? static_cast<std::uint64_t>(cpus) : 1;

  const std::string loadavg = proc_root_ + "/loadavg";
  std::ifstream load(loadavg);
  if (!load) return IoError("open " + loadavg + ": cannot read");
  if (!(load >> s.load1) || s.load1 < 0) {
    return InvalidArgument(loadavg + ": no load average");
  }

  const std::string meminfo = proc_root_ + "/meminfo";
  std::ifstream mem(meminfo);
  if (!mem) return IoError("open " + meminfo + ": cannot read");
  bool have_total = false, have_avail = false;
  std::string line;
  while (std::getline(mem, line)) {
    std::istringstream fields(line);
    std::string key;
    std::uint64_t kib = 0;
    if (!(fields >> key >> kib)) continue;
    if (key == "MemTotal:") {
      s.mem_total_kib = kib;
      have_total = true;
    } else if (key == "MemAvailable:") {
      s.mem_free_kib = kib;
      have_avail = true;
    }
  }
  if (!have_total || !have_avail) {
    return InvalidArgument(meminfo + ": MemTotal or MemAvailable missing");
  }
  s.free_vcpus = s.cpus;
  s.free_mem_kib = s.mem_free_kib;
  return s;
}

}  // namespace tvd::rm
