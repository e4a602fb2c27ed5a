#!/usr/bin/env bash
# Provisions one compute host: its software TPM, Open vSwitch, charon,
# libvirtd (QEMU driver), the tenant relay (libvirt-filter), proxy-factory
# (which starts one tvd-proxy per TVD) and rm-agent. Each daemon gets a
# private directory under $TB_STATE; nothing of the machine's own daemons'
# state is used or changed.
#
# Usage:
#   host.sh tpm NAME           starts swtpm (TCP 127.0.0.1:2321 in the host's
#                              network), boots it (below) and writes the TPM's
#                              facts for the management node:
#                              $TB_SITE/hosts/NAME.ek (sha256 of the EK public
#                              area), NAME.pcrs (PCRs 0, 2, 4, 7 of the SHA-256
#                              bank) and NAME.eventlog (the boot's event log)
#   host.sh start NAME ADDR    starts the other daemons; ADDR is the host's
#                              underlay address (needs $TB_SITE/pki from
#                              `mgmt.sh pki`, policies from `mgmt.sh start`)
#
# Environment: common.sh (TB_SITE, TB_STATE, TB_NETNS, TB_BUILD,
# TB_MGMT_ADDR).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=testbed/provision/lib.sh
source "$here/lib.sh"
# shellcheck source=testbed/provision/common.sh
source "$here/common.sh"
: "${TB_SITE:?}" "${TB_STATE:?}"
# Root-only unless QEMU must pass through (tb_qemu_dir): the TPM state,
# keys, sockets and logs of this host are not libvirt-qemu's.
umask 027
tb_qemu_dir "$TB_STATE"
pki=$(tb_pki)
# TB_TCTI: the TPM the proxies use; unset: the swtpm `host.sh tpm` starts.
tcti=${TB_TCTI:-swtpm:host=127.0.0.1,port=$TB_SWTPM_PORT}

start_swtpm() {
  local d=$1
  tb_spawn swtpm "$d/swtpm.log" "" swtpm socket --tpm2 \
    --server "type=tcp,port=$TB_SWTPM_PORT,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((TB_SWTPM_PORT + 1)),bindaddr=127.0.0.1" \
    --flags not-need-init,startup-clear --tpmstate "dir=$d"
  tb_wait "swtpm" 10 "$TB_PID" "$d/swtpm.log" \
    tb_tcp_up "$TB_NETNS" 127.0.0.1 "$TB_SWTPM_PORT"
}

cmd_tpm() {
  local name=$1 d=$TB_STATE/tpm
  mkdir -p "$d" "$TB_SITE/hosts"
  if [[ -z ${TB_TCTI:-} ]]; then
    start_swtpm "$d"
  fi
  # The EK the attester creates is the TCG default RSA-2048 EK, which is what
  # tpm2_createek makes; the master's allow-list holds the sha256 of its
  # TPM2B_PUBLIC.
  tb_in "$TB_NETNS" tpm2_createek -T "$tcti" -G rsa -c "$d/ek.ctx" \
    -u "$d/ek.pub" >/dev/null
  sha256sum "$d/ek.pub" | cut -d' ' -f1 >"$TB_SITE/hosts/$name.ek"
  rm -f "$d/ek.ctx"
  # The measured boot: a fresh swtpm booted nothing, so a synthetic UEFI
  # boot (the same firmware and loaders on every host: one hardware model)
  # is written as the host's event log and extended into PCRs 0-9, and the
  # proxies send that log with their quotes (--event-log). The policies then
  # check it against a measured-boot policy drafted from it (mgmt.sh).
  # Installed binaries have no tvd-synthetic-boot (a test tool): PCR values
  # are pinned instead, as with a TPM of TB_TCTI.
  local boot
  rm -f "$d/binary_bios_measurements" "$TB_SITE/hosts/$name.eventlog"
  if [[ -z ${TB_TCTI:-} ]] && boot=$(tb_bin tvd-synthetic-boot 2>/dev/null); then
    tb_in "$TB_NETNS" "$boot" --seed testbed-host --tcti "$tcti" \
      --log "$d/binary_bios_measurements" >/dev/null
    cp "$d/binary_bios_measurements" "$TB_SITE/hosts/$name.eventlog"
  fi
  tb_in "$TB_NETNS" tpm2_pcrread -T "$tcti" sha256:0,2,4,7 |
    awk '/^ +[0-9]+ *:/ {gsub(/ /, ""); split($0, a, ":"); v = tolower(a[2]); sub(/^0x/, "", v); print a[1], v}' \
      >"$TB_SITE/hosts/$name.pcrs"
  [[ $(wc -l <"$TB_SITE/hosts/$name.pcrs") == 4 ]] ||
    tb_die "could not read PCRs 0,2,4,7 of $name's TPM"
}

start_ovs() {
  local d=$TB_STATE/ovs
  mkdir -p "$d"
  [[ -f $d/conf.db ]] ||
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  local env=(env "OVS_RUNDIR=$d" "OVS_DBDIR=$d" "OVS_LOGDIR=$d" "OVS_SYSCONFDIR=$d")
  rm -f "$d/ovsdb-server.ctl" "$d/ovs-vswitchd.ctl"
  tb_spawn ovsdb-server "$d/ovsdb-server.out" "" "${env[@]}" ovsdb-server \
    "$d/conf.db" "--remote=punix:$d/db.sock" "--unixctl=$d/ovsdb-server.ctl" \
    "--pidfile=$d/ovsdb-server.pid" --no-chdir "--log-file=$d/ovsdb-server.log"
  tb_wait ovsdb-server 10 "$TB_PID" "$d/ovsdb-server.out" test -S "$d/ovsdb-server.ctl"
  ovs-vsctl "--db=unix:$d/db.sock" --no-wait init
  tb_spawn ovs-vswitchd "$d/ovs-vswitchd.out" "" "${env[@]}" ovs-vswitchd \
    "unix:$d/db.sock" "--unixctl=$d/ovs-vswitchd.ctl" \
    "--pidfile=$d/ovs-vswitchd.pid" --no-chdir "--log-file=$d/ovs-vswitchd.log"
  tb_wait ovs-vswitchd 10 "$TB_PID" "$d/ovs-vswitchd.out" test -S "$d/ovs-vswitchd.ctl"
}

# charon (strongSwan's IKE daemon) with userspace ESP (kernel-libipsec), as
# docs/ipsec.md describes. Its directory is bound on /run in its private mount
# namespace (charon writes fixed /run paths); the VICI socket is
# $TB_STATE/charon/charon.vici from outside.
start_charon() {
  local d=$TB_STATE/charon
  mkdir -p "$d"
  cat >"$d/strongswan.conf" <<'EOF'
# Written by testbed/provision/host.sh. Paths are as charon sees them: this
# directory is its /run.
charon {
  load = random nonce openssl pem pkcs1 pubkey x509 kdf kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  plugins {
    kernel-libipsec {
      allow_peer_ts = yes
    }
    kernel-netlink {
      fwmark = !0x4d4
    }
    socket-default {
      fwmark = 0x4d4
    }
    vici {
      socket = unix:///run/charon.vici
    }
  }
  filelog {
    testbed {
      path = /run/charon.log
      time_format = %H:%M:%S
      flush_line = yes
      append = yes
      default = 1
    }
  }
  syslog {
  }
}
EOF
  rm -f "$d/charon.vici" "$d/charon.pid"
  tb_spawn charon "$d/charon.out" "$d:/run" env STRONGSWAN_CONF=/run/strongswan.conf \
    /usr/lib/ipsec/charon
  tb_wait charon 10 "$TB_PID" "$d/charon.out" tb_unix_up "$d/charon.vici"
}

# A private libvirtd with the QEMU driver: its run, state, cache, log and
# configuration directories are this host's, bound over the system paths in
# its private mount namespace. QEMU runs as libvirt-qemu, never root: libvirt's
# DAC driver chowns a domain's files to it while the domain runs and gives
# them back after (dynamic_ownership, remember_owner). Where the kernel has
# AppArmor enabled, libvirt's AppArmor driver confines each QEMU to its own
# files as well (TB_APPARMOR=0 turns that off; =1 insists on it). libvirtd
# sees the machine read-only except this host's and the site's directories,
# so no domain definition makes it create or chown a file elsewhere
# (docs/host.md "libvirt's own confinement"). No per-VM namespaces or cgroups
# (a namespace host has none of these to itself); QEMU writes its output to
# files (no virtlogd). A vTPM's state is in $d/lib/swtpm (libvirt's
# /var/lib/libvirt/swtpm, where the proxies make it: --vtpm-storage-dir),
# the swtpm libvirt starts logs to $d/varlog (/var/log).
start_libvirtd() {
  local d=$TB_STATE/libvirt
  mkdir -p "$d"/{sock,run,lib,cache,log,etc} "$d/varlog/libvirt"
  chmod 700 "$d" "$d"/{sock,log,etc}
  # Seen by QEMU as /run/libvirt, /var/lib/libvirt and /var/cache/libvirt:
  # libvirt makes its per-domain directories below them for libvirt-qemu.
  chmod 755 "$d/run" "$d/lib"
  # /var/log for libvirtd: the swtpm it starts for a vTPM runs as its own
  # user (tss) and writes its log below it.
  chmod 755 "$d/varlog"
  chmod 711 "$d/cache"
  getent passwd libvirt-qemu >/dev/null ||
    tb_die "no user libvirt-qemu for QEMU (install libvirt-daemon-system)"
  local driver=none aa binds="" securityfs=""
  aa=$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo N)
  case ${TB_APPARMOR:-auto} in
    0) ;;
    1)
      [[ $aa == Y ]] || tb_die "TB_APPARMOR=1 but AppArmor is not enabled in this kernel"
      driver=apparmor
      ;;
    auto) [[ $aa == Y ]] && driver=apparmor ;;
    *) tb_die "TB_APPARMOR must be 0, 1 or auto" ;;
  esac
  if [[ $driver == apparmor ]]; then
    # virt-aa-helper writes each domain's profile here and loads it.
    mkdir -p /etc/apparmor.d/libvirt
    binds="/etc/apparmor.d/libvirt:/etc/apparmor.d/libvirt"
    securityfs=1
  fi
  tb_log "libvirtd: QEMU as libvirt-qemu, security driver $driver (+ dac)"
  cat >"$d/libvirtd.conf" <<EOF
# Written by testbed/provision/host.sh.
listen_tls = 0
listen_tcp = 0
unix_sock_dir = "$d/sock"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$d/libvirtd.log"
EOF
  cat >"$d/etc/qemu.conf" <<EOF
# Written by testbed/provision/host.sh.
user = "libvirt-qemu"
group = "libvirt-qemu"
dynamic_ownership = 1
remember_owner = 1
# libvirt always stacks its DAC driver under this one.
security_driver = "$driver"
namespaces = []
cgroup_controllers = []
stdio_handler = "file"
EOF
  # Writable for libvirtd (and so for what a domain definition makes it
  # create or chown): its own directory, the VM images, the serial sockets
  # and the tenants' storage. Not the keys, policies or TPM state.
  local w
  for w in "$TB_SITE/images" "$TB_SITE/serial" "$TB_STATE/storage"; do
    [[ -d $w ]] || tb_die "$w is missing (mgmt.sh start makes the site's)"
    binds+=" $w:$w"
  done
  # libvirtd's own umask, as its systemd unit gives it (022): the
  # directories it makes for the users it runs (QEMU's libvirt-qemu,
  # swtpm's tss) must let them pass, whatever this script's umask.
  local umask_before
  umask_before=$(umask)
  umask 022
  TB_RO_ROOT=1 TB_SECURITYFS=$securityfs tb_spawn libvirtd "$d/libvirtd.out" \
    "$d:$d $binds $d/run:/run/libvirt $d/lib:/var/lib/libvirt $d/cache:/var/cache/libvirt $d/varlog:/var/log $d/log:/var/log/libvirt $d/etc:/etc/libvirt" \
    libvirtd -f "$d/libvirtd.conf" -p "$d/libvirtd.pid"
  umask "$umask_before"
  tb_wait libvirtd 30 "$TB_PID" "$d/libvirtd.out" tb_unix_up "$d/sock/libvirt-sock"
}

libvirt_uri() { echo "qemu+unix:///system?socket=$TB_STATE/libvirt/sock/libvirt-sock"; }

start_relay() {
  local name=$1 addr=$2 bin
  bin=$(tb_bin libvirt-filter) || tb_die "libvirt-filter not built"
  mkdir -p "$TB_STATE/storage"
  tb_spawn libvirt-filter "$TB_STATE/relay.log" "" "$bin" \
    "--listen=$addr:$TB_RELAY_PORT" "--ca-cert=$pki/ca.crt" \
    "--cert=$pki/host-relay-$name.crt" "--key=$pki/host-relay-$name.key" \
    "--upstream-socket=$TB_STATE/libvirt/sock/libvirt-sock" \
    "--upstream-uri=qemu:///system" "--policy-dir=$TB_SITE/policies" \
    "--storage-root=$TB_STATE/storage" "--proxy-run-dir=$TB_STATE/proxies"
  tb_wait libvirt-filter 20 "$TB_PID" "$TB_STATE/relay.log" \
    tb_tcp_up "$TB_NETNS" "$addr" "$TB_RELAY_PORT"
}

start_factory() {
  local name=$1 addr=$2 bin proxy
  bin=$(tb_bin proxy-factory) || tb_die "proxy-factory not built"
  proxy=$(tb_bin tvd-proxy) || tb_die "tvd-proxy not built"
  mkdir -p "$TB_STATE/proxies"
  rm -f "$TB_STATE/factory.sock"
  local a=()
  for arg in --host="$name" --address="$addr" \
    --libvirt-uri="$(libvirt_uri)" \
    --ovsdb="$TB_STATE/ovs/db.sock" --bridge=br-tvd \
    --openflow="$TB_STATE/ovs/br-tvd.mgmt" \
    --vici="$TB_STATE/charon/charon.vici" --datapath=netdev \
    --master-name=tvd-master \
    --ca="$pki/ca.crt" --cert="$pki/host-$name.crt" --key="$pki/host-$name.key" \
    --tcti="$tcti" --vtpm-storage-dir="$TB_STATE/libvirt/lib/swtpm" \
    --libvirt-channel-dir="$TB_STATE/libvirt/lib/qemu/channel/target"; do
    a+=("--proxy-arg=$arg")
  done
  if [[ -f $TB_STATE/tpm/binary_bios_measurements ]]; then
    a+=("--proxy-arg=--event-log=$TB_STATE/tpm/binary_bios_measurements")
  fi
  tb_spawn proxy-factory "$TB_STATE/factory.log" "" "$bin" \
    --socket "$TB_STATE/factory.sock" --run-dir "$TB_STATE/proxies" \
    --state-dir "$TB_STATE/proxy-state" --proxy "$proxy" \
    --master "$TB_MASTERS" "${a[@]}"
  tb_wait proxy-factory 10 "$TB_PID" "$TB_STATE/factory.log" \
    tb_unix_up "$TB_STATE/factory.sock"
}

start_rm_agent() {
  local name=$1 bin
  bin=$(tb_bin rm-agent) || tb_die "rm-agent not built"
  tb_spawn rm-agent "$TB_STATE/rm-agent.log" "" "$bin" \
    --server "tcp://$TB_MGMT_ADDR:$TB_RM_AGENT_PORT" \
    --server-key "$TB_SITE/rm/server.pub" --key "$TB_SITE/rm/$name" \
    --host "$name" --libvirt-uri "$(libvirt_uri)"
}

cmd_start() {
  local name=$1 addr=$2
  [[ -f $pki/host-$name.crt ]] || tb_die "no certificate for $name (mgmt.sh pki first)"
  # Tenants' disks (the relay's storage root): QEMU passes through; libvirt
  # chowns a disk to QEMU while its domain runs.
  tb_qemu_dir "$TB_STATE/storage"
  start_ovs
  start_charon
  start_libvirtd
  start_relay "$name" "$addr"
  start_factory "$name" "$addr"
  start_rm_agent "$name"
}

case ${1:-} in
  tpm) (($# == 2)) || tb_die "usage: host.sh tpm NAME"; cmd_tpm "$2" ;;
  start) (($# == 3)) || tb_die "usage: host.sh start NAME ADDR"; cmd_start "$2" "$3" ;;
  *) echo "usage: host.sh tpm NAME | start NAME ADDR" >&2; exit 2 ;;
esac
