#!/usr/bin/env bash
# Tears down what testbed/up.sh built, and only that: the VMs of the
# testbed's private libvirtds, every process recorded in the nodes' pid
# lists (by PID and start time), any process left inside the testbed's own
# namespaces (e.g. tvd-proxy children of a proxy-factory that was killed),
# the namespaces (with their veths, bridge, OVS datapaths, nftables), and the
# state directory. Idempotent: safe to run twice or after a crash.
#
# Usage: testbed/down.sh        (TB_ROOT, TB_PREFIX as for up.sh)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_ROOT=${TB_ROOT:-/run/tvd-testbed}
TB_PREFIX=${TB_PREFIX:-tvdtb}
# shellcheck source=testbed/provision/lib.sh
source "$here/provision/lib.sh"

# The namespaces: those up.sh listed, and any PREFIX-* left by a crash
# before the list was written.
mapfile -t spaces < <({
  cat "$TB_ROOT/netns" 2>/dev/null
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$TB_PREFIX-(ul|mgmt|h[0-9]+|m[0-9]+)$"
} | sort -u)

# 1. VMs: QEMU is libvirtd's child, not ours; libvirtd destroys them.
for d in "$TB_ROOT"/h*/libvirt; do
  [[ -S $d/sock/libvirt-sock ]] || continue
  uri="qemu+unix:///system?socket=$d/sock/libvirt-sock"
  for vm in $(timeout 10 virsh -q -c "$uri" list --name 2>/dev/null); do
    timeout 10 virsh -q -c "$uri" destroy "$vm" >/dev/null 2>&1
  done
done
# QEMU processes whose libvirtd is gone: libvirt's pid files name them.
for f in "$TB_ROOT"/h*/libvirt/run/qemu/*.pid; do
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  if [[ $pid =~ ^[0-9]+$ ]] && grep -qa qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
  fi
done

# 2. Recorded daemons, hosts before the master replicas and the management
# node.
for f in "$TB_ROOT"/h*/pids "$TB_ROOT"/m[0-9]*/pids "$TB_ROOT"/mgmt/pids; do
  [[ -f $f ]] && tb_stop_recorded "$f"
done

# 3. Anything still running inside our namespaces.
for ns in "${spaces[@]}"; do
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    kill -TERM "$pid" 2>/dev/null
  done
done
for ns in "${spaces[@]}"; do
  for _ in $(seq 50); do
    [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
    sleep 0.1
  done
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null
  done
done

# 4. Namespaces (their devices, bridges and nftables go with them).
for ns in "${spaces[@]}"; do
  ip netns del "$ns" 2>/dev/null
done

# 5. Files.
if [[ -f $TB_ROOT/made-run-libvirt ]]; then
  rmdir /run/libvirt 2>/dev/null
fi
rm -rf "$TB_ROOT"
left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$TB_PREFIX-(ul|mgmt|h[0-9]+|m[0-9]+)$")
if [[ -n $left ]]; then
  echo "down: namespaces still there: $left" >&2
  exit 1
fi
echo "testbed down: $TB_ROOT removed${spaces[*]:+, namespaces ${spaces[*]} deleted}"
