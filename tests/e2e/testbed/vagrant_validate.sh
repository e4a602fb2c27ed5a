#!/usr/bin/env bash
# Checks testbed/Vagrantfile with `vagrant validate --ignore-provider`.
# Exit 77 (ctest SKIP_RETURN_CODE) when vagrant is not installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
if ! command -v vagrant >/dev/null; then
  echo "SKIPPED: vagrant is not installed"
  exit 77
fi
cd "$root/testbed"
# A private Vagrant home: validation must not depend on, or write to, the
# user's boxes and plugins, nor leave .vagrant/ in the checkout.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
VAGRANT_HOME=$home VAGRANT_DOTFILE_PATH=$home/dot vagrant validate --ignore-provider
