#!/usr/bin/env bash
# Vagrant's first provisioning step on every machine: the project's
# build dependencies, a release build of the shared checkout in this
# machine's own build directory (the checkout is shared, its build directory
# is not), the Debian packages of that build, installed as a real host
# installs them (docs/install.md), and the guest image (the builder is
# reproducible: every host gets the same bytes and digests). The testbed's
# provisioning then runs the installed binaries (TB_BUILD empty: from PATH).
# Not run by CI (no Vagrant provider there).
set -euo pipefail
cd /vagrant
scripts/install-deps.sh
build=/var/lib/tvd-build
cmake -S /vagrant -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTVD_BUILD_BENCH=OFF
cmake --build "$build" --target tvd-master tvd-proxy proxy-factory \
  libvirt-filter rm-agent rm-server tvdctl tvd-overview
rm -rf "$build/packages"
(cd "$build" && cpack -G DEB)
# Reinstalling the same version on a second provisioning run is a no-op
# for apt; --reinstall makes it take the new build.
DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall \
  --no-install-recommends "$build"/packages/*.deb
testbed/guest/build-guest.sh "$TB_GUEST"
