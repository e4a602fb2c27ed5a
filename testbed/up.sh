#!/usr/bin/env bash
# Brings up the namespace testbed: one underlay bridge, a management node and
# N compute hosts (default 2), each a network namespace, provisioned with
# testbed/provision/{mgmt,host}.sh.
#
# Usage: testbed/up.sh [--masters R] BUILD_DIR|--installed [N]
#
# BUILD_DIR: the project's binaries from that build tree
# (BUILD/tvd-master/tvd-master, ...). --installed: the installed ones, as
# the Debian packages put them (docs/install.md: /usr/sbin/tvd-master,
# /usr/sbin/proxy-factory and its /usr/sbin/tvd-proxy, /usr/bin/tvdctl,
# ...), found on PATH; the testbed still starts them itself, in its
# namespaces, not through their systemd units.
#
# --masters R (1..5, default 1): R tvd-master replicas sharing their state on
# an R-server clustered OVSDB store (docs/master.md section 6b). Replica 1
# runs on the management node; replica i >= 2 with its store server in
# namespace PREFIX-mI at 198.18.0.i. Hosts and tvdctl get the list of all
# (TB_MASTERS). With 1, the one master keeps its state in SQLite.
#
# Environment:
#   TB_ROOT    state directory (default /run/tvd-testbed): per-node state,
#              logs, the pid lists, the site directory, env (sourceable)
#   TB_PREFIX  prefix of the namespace names (default tvdtb): PREFIX-ul (the
#              underlay bridge), PREFIX-mgmt, PREFIX-h1 ... PREFIX-hN
#   TB_GUEST   guest image directory (default /var/cache/tvd-testbed/guest;
#              built by testbed/guest/build-guest.sh when missing; a cache,
#              not removed by down.sh)
#   TB_VMS     the scenario's VM list (default: testbed/scenario.vms)
#
# Addresses (198.18.0.0/15, inside the namespaces only): mgmt 198.18.0.10,
# host i 198.18.0.(10+i), all /24 on the underlay bridge. Nothing is added to
# the machine's own network namespace.
# A testbed left behind by a crash is torn down first (down.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
replicas=1
if [[ ${1:-} == --masters ]]; then
  replicas=${2:-}
  shift 2 || true
fi
[[ $replicas =~ ^[1-5]$ ]] || { echo "up: --masters must be 1..5" >&2; exit 2; }
(($# >= 1 && $# <= 2)) || { echo "usage: $0 [--masters R] BUILD_DIR|--installed [N]" >&2; exit 2; }
if [[ $1 == --installed ]]; then
  # Empty: provision/common.sh's tb_bin takes each binary from PATH.
  build=""
  for b in tvd-master tvd-proxy proxy-factory libvirt-filter rm-agent rm-server tvdctl; do
    command -v "$b" >/dev/null ||
      { echo "up: --installed: $b is not on PATH (install the packages: docs/install.md)" >&2; exit 1; }
  done
else
  build=$(cd "$1" && pwd)
fi
n=${2:-2}
[[ $n =~ ^[1-9]$ ]] || { echo "up: N must be 1..9" >&2; exit 2; }
export TB_ROOT=${TB_ROOT:-/run/tvd-testbed}
export TB_PREFIX=${TB_PREFIX:-tvdtb}
export TB_GUEST=${TB_GUEST:-/var/cache/tvd-testbed/guest}
export TB_VMS=${TB_VMS:-$here/scenario.vms}
export TB_BUILD=$build
export TB_SITE=$TB_ROOT/site
export TB_MGMT_ADDR=198.18.0.10
export TB_REPLICAS=$replicas
# Replica 1 is the management node; replica i >= 2 is at 198.18.0.i.
replica_addr() { if (($1 == 1)); then echo "$TB_MGMT_ADDR"; else echo "198.18.0.$1"; fi; }
TB_MASTER_ADDRS=""
TB_MASTERS=""
for ((r = 1; r <= replicas; r++)); do
  TB_MASTER_ADDRS+="${TB_MASTER_ADDRS:+ }$(replica_addr "$r")"
  TB_MASTERS+="${TB_MASTERS:+,}$(replica_addr "$r"):7400"
done
export TB_MASTER_ADDRS TB_MASTERS
# shellcheck source=testbed/provision/lib.sh
source "$here/provision/lib.sh"
[[ $(id -u) == 0 ]] || tb_die "run as root (namespaces, OVS, libvirtd)"

if [[ -e $TB_ROOT ]] || ip netns list | grep -q "^$TB_PREFIX-"; then
  tb_log "a previous testbed is there: tearing it down first"
  "$here/down.sh"
fi
mkdir -p "$TB_ROOT"
# QEMU runs as libvirt-qemu and reaches its images, sockets and disks
# below; everything else stays root's (docs/host.md "libvirt's own
# confinement").
tb_qemu_dir "$TB_ROOT"
ul=$TB_PREFIX-ul
nodes=("$TB_PREFIX-mgmt")
for ((i = 1; i <= n; i++)); do nodes+=("$TB_PREFIX-h$i"); done
replica_nodes=()
for ((r = 2; r <= replicas; r++)); do replica_nodes+=("$TB_PREFIX-m$r"); done
printf '%s\n' "$ul" "${nodes[@]}" "${replica_nodes[@]}" >"$TB_ROOT/netns"

tb_log "guest image ($TB_GUEST)"
"$here/guest/build-guest.sh" "$TB_GUEST" >"$TB_ROOT/build-guest.log" 2>&1 ||
  { cat "$TB_ROOT/build-guest.log" >&2; tb_die "guest image build failed"; }

if [[ ! -d /run/libvirt ]]; then
  # libvirtd's run directory is bound over this path in its private mount
  # namespace, so the path must exist; down.sh removes it again.
  mkdir -p /run/libvirt
  touch "$TB_ROOT/made-run-libvirt"
fi

tb_log "underlay and namespaces: ${nodes[*]}"
ip netns add "$ul"
ip -n "$ul" link set lo up
ip -n "$ul" link add ulbr type bridge
ip -n "$ul" link set ulbr up
addr_of() { # index 0 = mgmt
  echo "198.18.0.$((10 + $1))"
}
for i in "${!nodes[@]}"; do
  ns=${nodes[$i]}
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add ul0 netns "$ns" type veth peer name "p$i" netns "$ul"
  ip -n "$ul" link set "p$i" master ulbr up
  ip -n "$ns" addr add "$(addr_of "$i")/24" dev ul0
  ip -n "$ns" link set ul0 up
done

for ((r = 2; r <= replicas; r++)); do
  ns=$TB_PREFIX-m$r
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add ul0 netns "$ns" type veth peer name "pm$r" netns "$ul"
  ip -n "$ul" link set "pm$r" master ulbr up
  ip -n "$ns" addr add "$(replica_addr "$r")/24" dev ul0
  ip -n "$ns" link set ul0 up
done

hosts=()
for ((i = 1; i <= n; i++)); do hosts+=("h$i:$(addr_of "$i")"); done

tb_log "management node: CA and certificates"
TB_STATE=$TB_ROOT/mgmt TB_NETNS=$TB_PREFIX-mgmt "$here/provision/mgmt.sh" pki "${hosts[@]}"
for h in "${hosts[@]}"; do
  tb_log "host ${h%%:*}: software TPM"
  TB_STATE=$TB_ROOT/${h%%:*} TB_NETNS=$TB_PREFIX-${h%%:*} "$here/provision/host.sh" tpm "${h%%:*}"
done
tb_log "management node: policies, VM configurations, tvd-master, rm-server"
TB_STATE=$TB_ROOT/mgmt TB_NETNS=$TB_PREFIX-mgmt "$here/provision/mgmt.sh" start
for ((r = 2; r <= replicas; r++)); do
  tb_log "master replica $r: store server (joins the cluster), tvd-master"
  TB_STATE=$TB_ROOT/m$r TB_NETNS=$TB_PREFIX-m$r "$here/provision/mgmt.sh" replica "$r" "$(replica_addr "$r")"
done
for h in "${hosts[@]}"; do
  tb_log "host ${h%%:*}: OVS, charon, libvirtd, relay, proxy-factory, rm-agent"
  TB_STATE=$TB_ROOT/${h%%:*} TB_NETNS=$TB_PREFIX-${h%%:*} "$here/provision/host.sh" start "${h%%:*}" "${h#*:}"
done

cat >"$TB_ROOT/env" <<ENV
# Written by testbed/up.sh; source it to drive the testbed by hand.
TB_ROOT=$TB_ROOT
TB_PREFIX=$TB_PREFIX
TB_SITE=$TB_SITE
TB_BUILD=$TB_BUILD
TB_HOSTS="${hosts[*]}"
TB_MGMT_ADDR=$TB_MGMT_ADDR
TB_REPLICAS=$TB_REPLICAS
TB_MASTERS=$TB_MASTERS
TVDCTL_ADMIN_CONFIG=$TB_SITE/admin.conf
ENV
tb_log "testbed up: $TB_ROOT (mgmt + $n hosts, $replicas master(s): $TB_MASTERS)"
