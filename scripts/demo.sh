#!/usr/bin/env bash
# The README's main job: installs what is needed, builds the release flavour
# and runs the namespace testbed demo (testbed/demo.sh; docs/testbed.md
# explains its output). The demo removes the testbed when it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release
exec "$root/testbed/demo.sh" "$root/build/release"
