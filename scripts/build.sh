#!/usr/bin/env bash
# Configures and builds one flavour of the tree.
# Usage: build.sh release|asan|tsan   (build dirs: build/FLAVOUR)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
# Both sanitizer flavours: lightly optimised (-O1, as the sanitizers advise)
# so the daemons the tests start keep up, assertions on (no NDEBUG), and line
# tables only: reports keep file:line at a fraction of the build time full
# debug information costs.
sanitizer_flags=("-DCMAKE_CXX_FLAGS_DEBUG=-O1 -gline-tables-only"
                 "-DCMAKE_C_FLAGS_DEBUG=-O1 -gline-tables-only")
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
    args=(-DCMAKE_BUILD_TYPE=Debug "${sanitizer_flags[@]}"
          -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
          -DTVD_SANITIZE=ON -DTVD_FUZZ=ON -DTVD_BUILD_BENCH=OFF) ;;
  tsan)
    # ThreadSanitizer; unit and integration tests only
    # (tests/CMakeLists.txt).
    args=(-DCMAKE_BUILD_TYPE=Debug "${sanitizer_flags[@]}"
          -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DTVD_TSAN=ON
          -DTVD_BUILD_BENCH=OFF) ;;
  *) echo "usage: build.sh release|asan|tsan" >&2; exit 2 ;;
esac
dir=$root/build/$flavour
cmake -S "$root" -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
