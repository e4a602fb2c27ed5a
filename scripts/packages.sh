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
#   5. the clustered store as docs/install.md 3a sets it up: tvd-master-store
#      makes a one-node Raft cluster (and refuses to make it twice), the
#      command line of the installed tvd-master-store.service serves it,
#      and the installed tvd-master with store = ovsdb:unix:... keeps a
#      TVD in it and answers tvdctl (store_phase below);
#   6. the demo's scenario on the installed binaries
#      (testbed/demo.sh --installed);
#   7. purge the packages, and remove the system users their sysusers.d
#      file made (purge leaves them, as Debian's packages do): the machine
#      is left as it was found, also when a step fails.
# Refuses to run where TVD packages are installed already: it would purge
# them.
# Usage: scripts/packages.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
packages=(tvd-common tvd-master tvd-master-store tvd-host tvd-rm-server tvd-overview tvdctl)
users=(tvd-master tvd-store tvd-rm tvd-rm-agent tvd-overview)
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

# unit_key UNIT KEY: KEY's value in the installed UNIT (its last line of
# KEY; the units set each key used here once).
unit_key() {
  sed -n "s/^$2=//p" "/lib/systemd/system/$1" | tail -n 1
}
# as_unit UNIT CMD...: execs CMD as UNIT's service would run it: its
# User=, Group=, SupplementaryGroups= and UMask= (CI's PID 1 is not
# systemd, so systemctl cannot start it; the sandboxing options are left
# out). Call it in a subshell, ( as_unit ... ): the process it leaves is
# CMD itself, with the subshell's PID.
as_unit() {
  local unit=$1 user group groups mask
  shift
  user=$(unit_key "$unit" User)
  group=$(unit_key "$unit" Group)
  groups=$(unit_key "$unit" SupplementaryGroups)
  mask=$(unit_key "$unit" UMask)
  local g=(--clear-groups)
  [[ -z $groups ]] || g=(--groups "${groups// /,}")
  umask "${mask:-0022}"
  exec setpriv --reuid="$user" --regid="$group" "${g[@]}" -- "$@"
}
# unit_exec UNIT: the words of UNIT's ExecStart (refused when it has
# specifiers or variables that only systemd would expand).
unit_exec() {
  local line
  line=$(unit_key "$1" ExecStart)
  [[ -n $line && $line != *[%\$\\]* ]] ||
    { echo "packages: $1: ExecStart '$line' is not a plain command line" >&2; return 1; }
  echo "$line"
}

store_pid=""
master_pid=""
store_made=()
# store_phase: step 5 of the header; docs/install.md section 3a is what it
# follows. Everything it starts is stopped by PID (stop_store_phase), also
# when a step fails; the files it adds go with the purge or with it.
store_phase() {
  say "clustered store: tvd-master-store, tvd-master-store.service's command line, tvd-master on it"
  local t0=$SECONDS out status
  local -a store_cmd master_cmd
  out=$(unit_exec tvd-master-store.service)
  read -ra store_cmd <<<"$out"
  out=$(unit_exec tvd-master.service)
  read -ra master_cmd <<<"$out"
  local conf=/etc/tvd/tvd-master-store.conf
  local fix="fix: tvd-master-store create-cluster (first machine), join-cluster MEMBER... (the others) or standalone (docs/install.md section 3a)"

  # Before the set-up the unit refuses to start, naming the set-up command.
  status=0
  out=$( (as_unit tvd-master-store.service "${store_cmd[@]}") 2>&1) || status=$?
  [[ $status == 1 && $out == "error tvd-master-store: failed-precondition: store database /var/lib/tvd/store/store.db does not exist; $fix" ]] ||
    { echo "packages: the store's unit without a database: exit $status, '$out'" >&2; return 1; }

  # A one-node cluster on a loopback port the kernel says is free.
  local raft
  raft=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sed -i "s|^#cluster_address = .*|cluster_address = tcp:127.0.0.1:$raft|" "$conf"
  tvd-master-store create-cluster
  status=0
  out=$(tvd-master-store create-cluster 2>&1) || status=$?
  [[ $status == 1 && $out == "error tvd-master-store: failed-precondition: /var/lib/tvd/store/store.db exists already; not overwriting it (it holds the masters' state); fix: keep it, or stop tvd-master-store and remove /var/lib/tvd/store/store.db first to start this server over" ]] ||
    { echo "packages: create-cluster over an existing store: exit $status, '$out'" >&2; return 1; }
  [[ $(stat -c '%U %a' /var/lib/tvd/store/store.db) == "tvd-store 600" ]] ||
    { echo "packages: store.db is $(stat -c '%U %a' /var/lib/tvd/store/store.db), not tvd-store 600" >&2; return 1; }

  # Type=forking: the command returns once the server listens.
  (as_unit tvd-master-store.service "${store_cmd[@]}") 2>"$build/store-server.log" ||
    { cat "$build/store-server.log" >&2; echo "packages: the store's unit did not start" >&2; return 1; }
  store_pid=$(cat "$(unit_key tvd-master-store.service PIDFile)")
  ovsdb-client list-dbs unix:/run/tvd/store/store.sock | grep -qx TVD_Master ||
    { echo "packages: the store's socket serves no TVD_Master" >&2; return 1; }
  [[ $(stat -c '%U %G %a' /run/tvd/store/store.sock) == "tvd-store tvd-store 770" ]] ||
    { echo "packages: store.sock is $(stat -c '%U %G %a' /run/tvd/store/store.sock)" >&2; return 1; }

  # The master as docs/install.md section 3 sets it up, with its state on
  # the store through the socket (group tvd-store), one TVD in policy_dir.
  local ca
  ca=$(mktemp -d)
  store_made+=("$ca" /etc/tvd/pki /etc/tvd/policies /etc/tvd/master.kek /etc/tvd/eks.txt)
  tvdctl pki init --dir "$ca" --name pkg-test >/dev/null
  tvdctl pki issue host tvd-master --dir "$ca" --san IP:127.0.0.1 >/dev/null
  tvdctl pki issue admin admin --dir "$ca" >/dev/null
  install -d /etc/tvd/pki /etc/tvd/policies
  install -m 0644 "$ca/ca.crt" "$ca/host-tvd-master.crt" /etc/tvd/pki/
  install -m 0600 -o tvd-master "$ca/host-tvd-master.key" /etc/tvd/pki/
  (umask 077 && head -c 32 /dev/urandom >/etc/tvd/master.kek)
  chown tvd-master /etc/tvd/master.kek
  : >/etc/tvd/eks.txt
  # Without its IMA allow-list pin: the file it names is a placeholder
  # (the demo derives the real one), and the master reads it at load.
  sed '/<ima-allowlist /d' "$root/policy-templates/blue.xml" >/etc/tvd/policies/blue.xml
  sed -i -e 's/^listen_port = .*/listen_port = 0/' -e '/^state_db = /d' /etc/tvd/tvd-master.conf
  echo "store = ovsdb:unix:/run/tvd/store/store.sock" >>/etc/tvd/tvd-master.conf
  local port_file=/var/lib/tvd/master/port
  (as_unit tvd-master.service "${master_cmd[@]}" --port-file "$port_file") \
    >"$build/store-master.log" 2>&1 &
  master_pid=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ ! -s $port_file ]] || break
    kill -0 "$master_pid" 2>/dev/null ||
      { cat "$build/store-master.log" >&2; echo "packages: tvd-master on the store exited" >&2; return 1; }
    sleep 0.1
  done
  [[ -s $port_file ]] ||
    { cat "$build/store-master.log" >&2; echo "packages: tvd-master on the store did not start in 20 s" >&2; return 1; }
  out=$(tvdctl tvd list --master "127.0.0.1:$(cat "$port_file")" --ca "$ca/ca.crt" \
    --cert "$ca/admin-admin.crt" --key "$ca/admin-admin.key")
  echo "$out"
  grep -q '^blue' <<<"$out" || { echo "packages: tvdctl tvd list shows no TVD blue" >&2; return 1; }
  # What the master answered is in the store: its KEK check and the TVD.
  out=$(ovsdb-client dump unix:/run/tvd/store/store.sock TVD_Master TVD name)
  grep -qw blue <<<"$out" || { echo "$out" >&2; echo "packages: no TVD blue in the store" >&2; return 1; }
  [[ $(ovsdb-client dump unix:/run/tvd/store/store.sock TVD_Master Store_Identity kek_check |
    grep -cE '^"?[0-9a-f]{64}"?$') == 1 ]] ||
    { echo "packages: the store holds no KEK check value" >&2; return 1; }
  stop_store_phase
  say "clustered store took $((SECONDS - t0)) s"
}
# stop_store_phase: stops what store_phase started, by PID (TERM, then
# KILL after 10 s), and removes the files it added outside the packages.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_store_phase() {
  if [[ -n $master_pid ]]; then
    stop_pid "$master_pid"
    wait "$master_pid" 2>/dev/null || true
    master_pid=""
  fi
  if [[ -n $store_pid ]]; then
    stop_pid "$store_pid"
    store_pid=""
  fi
  ((${#store_made[@]} == 0)) || rm -rf "${store_made[@]}"
  store_made=()
}

cleanup() {
  local status=$?
  stop_store_phase
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
for d in /var/lib/tvd/master /var/lib/tvd/store /var/lib/tvd/proxy /run/tvd \
  /run/tvd/store /run/tvd/store-server; do
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

store_phase

say "the demo's scenario on the installed binaries (testbed/demo.sh --installed)"
for b in tvd-master proxy-factory tvd-proxy libvirt-filter rm-agent rm-server tvd-overview tvdctl; do
  echo "$b: $(command -v "$b")"
done
"$root/testbed/demo.sh" --installed
