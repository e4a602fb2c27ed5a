#!/usr/bin/env bash
# The demo (scripts/demo.sh runs it after building). For now: validates every
# policy template with tvdctl and prints what each one defines.
# Usage: testbed/demo.sh BUILD_DIR
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
tvdctl=$1/tvdctl/tvdctl
if [[ ! -x $tvdctl ]]; then
  echo "demo: $tvdctl not found; build first (scripts/build.sh release)" >&2
  exit 1
fi
templates=("$root"/policy-templates/*.xml)

rule() { printf '\n==== %s ====\n' "$*"; }

rule "tvdctl policy validate policy-templates/*.xml"
"$tvdctl" policy validate "${templates[@]}"

for f in "${templates[@]}"; do
  rule "tvdctl policy show ${f#"$root"/}"
  "$tvdctl" policy show "$f"
done

echo
echo "demo: all ${#templates[@]} policy templates are valid"
