#!/usr/bin/env bash
# The package phase (scripts/test.sh runs it after the release tests; by
# hand, as root, after scripts/build.sh release): the Debian packages as
# users get them.
#   1. cpack -G DEB in the release tree: packages of the binaries just built
#      and tested (packaging/CMakeLists.txt), no new compile;
#   2. lintian: no errors (warnings are printed);
#   3. apt-get install ./*.deb, so that their dependencies resolve;
#   4. systemd-analyze verify on every installed unit, and their
#      systemd-analyze security exposure (offline: PID 1 need not be
#      systemd);
#   5. the demo's scenario on the installed binaries
#      (testbed/demo.sh --installed);
#   6. purge the packages, and remove the system users their sysusers.d
#      file made (purge leaves them, as Debian's packages do): the machine
#      is left as it was found, also when a step fails.
# Refuses to run where TVD packages are installed already: it would purge
# them.
# Usage: scripts/packages.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
packages=(tvd-common tvd-master tvd-host tvd-rm-server tvd-overview tvdctl)
users=(tvd-master tvd-rm tvd-rm-agent tvd-overview)
say() { echo "== packages: $*"; }
# present PACKAGE: dpkg knows it in any state but "not installed" (a purged
# package's status is "unknown ok not-installed").
present() {
  local st
  st=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != *not-installed ]]
}

[[ $(id -u) == 0 ]] || { echo "packages: run as root (installs packages)" >&2; exit 1; }
for p in "${packages[@]}"; do
  if present "$p"; then
    echo "packages: $p is installed on this machine already; not touching it" >&2
    exit 1
  fi
done
made_users=()
for u in "${users[@]}"; do
  getent passwd "$u" >/dev/null || made_users+=("$u")
done

say "cpack -G DEB ($build)"
rm -rf "$build/packages"
(cd "$build" && cpack -G DEB >"$build/cpack.log" 2>&1) ||
  { cat "$build/cpack.log" >&2; exit 1; }
debs=()
for p in "${packages[@]}"; do
  deb=$(echo "$build/packages/${p}_"*.deb)
  [[ -f $deb ]] || { echo "packages: cpack made no $p package" >&2; exit 1; }
  debs+=("$deb")
done
ls -l "${debs[@]}"

say "lintian"
# Errors fail the phase; warnings and the rest are shown.
lintian --fail-on error --tag-display-limit 0 "${debs[@]}"

cleanup() {
  local status=$?
  say "purge"
  local installed=()
  for p in "${packages[@]}"; do
    if present "$p"; then installed+=("$p"); fi
  done
  ((${#installed[@]} == 0)) || dpkg --purge "${installed[@]}" >/dev/null
  for u in "${made_users[@]}"; do
    if getent passwd "$u" >/dev/null; then userdel "$u"; fi
    if getent group "$u" >/dev/null; then groupdel "$u"; fi
  done
  [[ -z $policy_made ]] || rm -f /usr/sbin/policy-rc.d
  local left=()
  for p in "${packages[@]}"; do
    if present "$p"; then left+=("$p"); fi
  done
  for d in /etc/tvd /var/lib/tvd /run/tvd; do [[ ! -e $d ]] || left+=("$d"); done
  if ((${#left[@]})); then
    echo "packages: left behind: ${left[*]}" >&2
    status=1
  fi
  exit $status
}
policy_made=""
trap cleanup EXIT

say "apt-get install ./*.deb"
# Like install-deps.sh: package scripts start no system-wide daemon.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  policy_made=1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${debs[@]}" >"$build/apt-install.log" 2>&1 ||
  { cat "$build/apt-install.log" >&2; exit 1; }
for u in "${users[@]}"; do
  getent passwd "$u" >/dev/null || { echo "packages: user $u was not made" >&2; exit 1; }
done
for d in /var/lib/tvd/master /var/lib/tvd/proxy /run/tvd; do
  [[ -d $d ]] || { echo "packages: $d was not made" >&2; exit 1; }
done

say "systemd-analyze verify and security (installed units)"
units=$(dpkg -L "${packages[@]}" | grep '^/lib/systemd/system/.*\.service$' | sort)
[[ -n $units ]] || { echo "packages: no units installed" >&2; exit 1; }
for u in $units; do
  # verify prints nothing for a clean unit; anything it prints is a defect.
  out=$(systemd-analyze verify --man=no "$u" 2>&1) || true
  if [[ -n $out ]]; then
    echo "$out" >&2
    echo "packages: systemd-analyze verify $u complained" >&2
    exit 1
  fi
  printf '%-28s %s\n' "$(basename "$u")" \
    "$(systemd-analyze security --offline=true "$u" 2>/dev/null | tail -n 1 | sed 's/.*: //')"
done

say "the demo's scenario on the installed binaries (testbed/demo.sh --installed)"
for b in tvd-master proxy-factory tvd-proxy libvirt-filter rm-agent rm-server tvd-overview tvdctl; do
  echo "$b: $(command -v "$b")"
done
"$root/testbed/demo.sh" --installed
