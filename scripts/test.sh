#!/usr/bin/env bash
# The README's test command: installs what is needed, builds the normal, the
# ASan+UBSan (+libFuzzer) and the ThreadSanitizer flavours (these two in the
# background while the tests before them run), and runs every
# test of the first two and the unit and integration tests of the third with
# ctest; after the release tests, the package phase (scripts/packages.sh:
# cpack, lintian, install, systemd-analyze verify, the demo's scenario on the
# installed binaries, purge). Exits non-zero when anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

status=0
took() { echo "== $1 took $((SECONDS - $2)) s"; }
echo "== build release"
start=$SECONDS
"$root/scripts/build.sh" release
took "build release" "$start"
# The sanitizer flavours build while the tests before them run, at idle
# priority (SCHED_IDLE): the tests wait on daemons and QEMU much of the time,
# and a compiler at idle priority only runs on a core no test wants at that
# moment. Each log is printed when its
# tests begin; a failed build fails the run.
mkdir -p "$root/build"
rm -f "$root/build/asan.built" "$root/build/tsan.built"
(
  for flavour in asan tsan; do
    begin=$SECONDS
    if chrt --idle 0 nice -n 19 "$root/scripts/build.sh" "$flavour" \
        >"$root/build/$flavour.build.log" 2>&1; then
      echo "== build $flavour (background) took $((SECONDS - begin)) s" \
        >>"$root/build/$flavour.build.log"
      touch "$root/build/$flavour.built"
    fi
  done
) &
background_builds=$!
# Waits until FLAVOUR's background build has ended (success or failure).
await_build() {
  local flavour=$1 begin=$SECONDS
  while [ ! -e "$root/build/$flavour.built" ] &&
        kill -0 "$background_builds" 2>/dev/null; do
    sleep 5
  done
  # The subshell may end between the two checks; a last look decides.
  echo "== build $flavour (waited $((SECONDS - begin)) s for it)"
  cat "$root/build/$flavour.build.log"
  [ -e "$root/build/$flavour.built" ]
}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# A race report stops the process it happens in (a test binary or a daemon a
# test started) and is written to tsan_reports/; a daemon's report fails the
# run even when its test did not notice the daemon go.
tsan_reports=$root/build/tsan/tsan_reports
rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 exitcode=66 suppressions=$root/tests/tsan.supp log_path=$tsan_reports/report"
for flavour in release asan tsan; do
  if [ "$flavour" != release ] && ! await_build "$flavour"; then
    echo "== build $flavour failed; its tests do not run"
    status=1
    continue
  fi
  echo "== test $flavour"
  start=$SECONDS
  run=(ctest --test-dir "$root/build/$flavour" --output-on-failure
       -j "$(nproc)" --timeout 1200)
  if [ "$flavour" = tsan ]; then
    # ThreadSanitizer (clang 14) needs the fixed address layout it was built
    # for; setarch -R turns address randomisation off for ctest and all it
    # starts, whatever the machine's vm.mmap_rnd_bits.
    run=(setarch "$(uname -m)" -R "${run[@]}" -L 'unit|integration')
  fi
  if ! "${run[@]}"; then
    status=1
  fi
  took "test $flavour" "$start"
  if [ "$flavour" = release ]; then
    # The Debian packages of the release build, installed and run as users
    # get them (scripts/packages.sh), then purged.
    echo "== packages"
    start=$SECONDS
    if ! "$root/scripts/packages.sh" "$root/build/release"; then
      status=1
    fi
    took packages "$start"
  fi
done
if compgen -G "$tsan_reports/report*" >/dev/null; then
  echo "== ThreadSanitizer reports"
  cat "$tsan_reports"/report*
  status=1
fi
wait "$background_builds" || true
echo "== all took $SECONDS s"
exit $status
