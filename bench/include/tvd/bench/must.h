// Failure handling for benchmark mains: a benchmark that cannot set up what
// it measures says why and exits with status 1. Messages start with the
// benchmark's name (TVD_BENCH_NAME, defined for every target by
// tvd_add_benchmark).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "tvd/status.h"

namespace tvd::bench {

[[noreturn]] inline void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s: %s\n", TVD_BENCH_NAME, what.c_str(),
               s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(StatusOr<T> v, const std::string& what) {
  if (!v.ok()) Die(what, v.status());
  return std::move(v).value();
}

}  // namespace tvd::bench
