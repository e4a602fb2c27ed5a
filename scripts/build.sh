#!/usr/bin/env bash
# Configures and builds one flavour of the tree.
# Usage: build.sh release|asan|tsan   (build dirs: build/FLAVOUR)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
# Both sanitizer flavours are unoptimised Debug builds with assertions on
# (stated, not left to a cache an earlier configure may have set): with the
# sanitizers' instrumentation, -O1 more than doubles the compile time, and
# the tests they run wait on daemons far more than they compute.
sanitizer_debug=("-DCMAKE_CXX_FLAGS_DEBUG=-g" "-DCMAKE_C_FLAGS_DEBUG=-g")
case $flavour in
  release)
    # Optimised, with line tables only (-g1): backtraces and perf keep
    # file:line, and the build takes about a third less time than with full
    # debug information. A debugging session configures its own build.
    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo
          "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
          "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
          -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++) ;;
  asan)
    # clang so that the same build also carries the libFuzzer targets.
    # Benchmarks are built (and so compile-checked) by the release flavour
    # only: timing sanitized code measures nothing.
    args=(-DCMAKE_BUILD_TYPE=Debug "${sanitizer_debug[@]}"
          -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
          -DTVD_SANITIZE=ON -DTVD_FUZZ=ON -DTVD_BUILD_BENCH=OFF) ;;
  tsan)
    # ThreadSanitizer; unit and integration tests only
    # (tests/CMakeLists.txt).
    args=(-DCMAKE_BUILD_TYPE=Debug "${sanitizer_debug[@]}"
          -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DTVD_TSAN=ON
          -DTVD_BUILD_BENCH=OFF) ;;
  *) echo "usage: build.sh release|asan|tsan" >&2; exit 2 ;;
esac
dir=$root/build/$flavour
cmake -S "$root" -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
