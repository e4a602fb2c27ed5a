#!/usr/bin/env bash
# The README's test command: installs what is needed, builds the normal and
# the ASan+UBSan (+libFuzzer) flavours, and runs every test of both with ctest.
# Exits non-zero when anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

status=0
for flavour in release asan; do
  echo "== build $flavour"
  "$root/scripts/build.sh" "$flavour"
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for flavour in release asan; do
  echo "== test $flavour"
  if ! ctest --test-dir "$root/build/$flavour" --output-on-failure \
      -j "$(nproc)" --timeout 1200; then
    status=1
  fi
done
exit $status
