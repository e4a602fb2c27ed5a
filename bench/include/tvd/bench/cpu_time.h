// CPU time of the calling thread, for benchmarks on a shared machine: it
// does not depend on what else runs.
#pragma once

#include <time.h>

namespace tvd::bench {

inline double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 +
         static_cast<double>(ts.tv_nsec) / 1e3;
}

}  // namespace tvd::bench
