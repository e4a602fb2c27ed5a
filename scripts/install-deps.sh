#!/usr/bin/env bash
# Installs every Debian 12 package the project builds, tests and demos with.
# Idempotent: when everything is already installed it changes nothing and does
# not touch the network.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev lld
  clang-format clang-tidy git python3
  # libraries
  libtinyxml2-dev libssl-dev libzmq3-dev cppzmq-dev libvirt-dev
  libtss2-dev libsqlite3-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real components the integration tests and the testbed start
  openvswitch-switch
  strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-standard-plugins
  libvirt-daemon libvirt-daemon-system libvirt-clients python3-libvirt
  qemu-system-x86 qemu-utils
  swtpm swtpm-tools tpm2-tools
  # guest image builder (testbed/guest/build-guest.sh: reproducible initramfs)
  cpio
  # headless browser for the admin overview page test (tests/integration/overview)
  chromium
  # the Vagrantfile check (vagrant validate --ignore-provider) in the e2e tests
  vagrant
  # virt-install (the library virt-manager uses) regenerates the domain XML
  # fixtures of the relay's allowlist tests
  # (tests/unit/libvirt_filter/data/make_fixtures.sh) and the seeds of the
  # confinement property test (tests/fuzz/domain_confinement/make_corpus.sh);
  # libosinfo reads the USB and PCI id lists
  virtinst usb.ids pci.ids
  # the package phase (scripts/packages.sh) checks the Debian packages
  # with lintian
  lintian
  # network plumbing and inspection
  iproute2 iputils-ping tcpdump ethtool util-linux procps nftables
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Package post-install scripts must not start system-wide daemons: tests and
# the testbed start their own private instances.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
