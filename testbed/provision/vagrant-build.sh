#!/usr/bin/env bash
# Vagrant's first provisioning step on every machine: the project's packages,
# a release build of the shared checkout into this machine's own $TB_BUILD
# (the checkout is shared, its build directory is not), and the guest image
# (the builder is reproducible: every host gets the same bytes and digests).
set -euo pipefail
cd /vagrant
scripts/install-deps.sh
cmake -S /vagrant -B "$TB_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$TB_BUILD" --target tvd-master tvd-proxy proxy-factory \
  libvirt-filter rm-agent rm-server tvdctl
testbed/guest/build-guest.sh "$TB_GUEST"
