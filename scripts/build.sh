#!/usr/bin/env bash
# Configures and builds one flavour of the tree.
# Usage: build.sh release|asan   (build dirs: build/release, build/asan)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
case $flavour in
  release)
    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc
          -DCMAKE_CXX_COMPILER=g++) ;;
  asan)
    # clang so that the same build also carries the libFuzzer targets.
    # Benchmarks are built (and so compile-checked) by the release flavour
    # only: timing sanitized code measures nothing.
    args=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang
          -DCMAKE_CXX_COMPILER=clang++ -DTVD_SANITIZE=ON -DTVD_FUZZ=ON
          -DTVD_BUILD_BENCH=OFF) ;;
  *) echo "usage: build.sh release|asan" >&2; exit 2 ;;
esac
dir=$root/build/$flavour
cmake -S "$root" -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
