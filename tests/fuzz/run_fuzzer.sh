#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: a fresh working corpus first
# (libFuzzer writes new inputs there), the read-only seed corpus second.
# Usage: run_fuzzer.sh BINARY WORK_DIR SEED_DIR SECONDS
set -euo pipefail
bin=$1 work=$2 seeds=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
# -rss_limit_mb guards against inputs that make the parser hoard memory;
# -timeout flags any single input that takes more than 10 s (a hang).
"$bin" -max_total_time="$seconds" -rss_limit_mb=2560 -timeout=10 \
  -print_final_stats=1 "$work" "$seeds"
