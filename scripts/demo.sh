#!/usr/bin/env bash
# The README's main job: sets up, builds, and runs the demo. For now the demo
# validates the policy templates and prints what they define; it grows into
# the multi-host testbed as the testbed lands.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release
exec "$root/testbed/demo.sh" "$root/build/release"
