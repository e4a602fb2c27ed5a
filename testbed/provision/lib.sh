# shellcheck shell=bash
# Helpers shared by the provisioning scripts, up.sh, down.sh and demo.sh.
# Sourced, never run. Every daemon started here is recorded as one line
#   PID STARTTIME NAME
# in $TB_STATE/pids (STARTTIME is field 22 of /proc/PID/stat), so down.sh
# stops exactly those processes and never a reused PID.
#
# Where a daemon runs: with TB_NETNS set, inside that network namespace
# (`ip netns exec`, which also gives it a private mount namespace and the
# namespace's /sys); with TB_NETNS empty (Vagrant, real machines) in a private
# mount namespace of the machine's own network (`unshare -m`). Bind mounts
# asked for by a daemon (libvirtd's and charon's state directories) are made
# only in that private mount namespace.

tb_die() {
  echo "testbed: $*" >&2
  exit 1
}

# tb_qemu_dir DIR...: DIR is one QEMU (user libvirt-qemu) must pass through
# to reach the files libvirt hands it (images, serial sockets, disks):
# root:libvirt-qemu, mode 0710. Nobody else may list, read or traverse it.
tb_qemu_dir() {
  getent group libvirt-qemu >/dev/null ||
    tb_die "no group libvirt-qemu (QEMU's user; libvirt-daemon-system creates it)"
  local d
  for d in "$@"; do
    mkdir -p "$d"
    if ! { chgrp libvirt-qemu "$d" && chmod 0710 "$d"; }; then
      tb_die "cannot make $d traversable by libvirt-qemu (root:libvirt-qemu 0710)"
    fi
  done
}

tb_log() { printf '[testbed %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# tb_in NETNS CMD...: runs CMD in NETNS (or here when NETNS is empty).
tb_in() {
  local ns=$1
  shift
  if [[ -n $ns ]]; then
    ip netns exec "$ns" "$@"
  else
    "$@"
  fi
}

tb_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # Field 2 (comm) may contain spaces; count fields after its ')'.
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# tb_spawn NAME LOG BINDS CMD...: starts CMD in $TB_NETNS in the background,
# with stdout/stderr to LOG; BINDS is a space-separated list of SRC:DST bind
# mounts made in the daemon's private mount namespace first. With
# TB_SECURITYFS=1 in its environment, securityfs is mounted on
# /sys/kernel/security there when it is missing. With TB_RO_ROOT=1, the mount
# at / is then remounted read-only in that namespace: only the bind mounts
# (and /proc, /sys, /dev) stay writable for the daemon and its children.
# Records the PID (the exec chain keeps it: ip netns exec and sh both exec).
# Sets TB_PID.
tb_spawn() {
  local name=$1 log=$2 binds=$3
  shift 3
  local script='set -e'
  local b
  for b in $binds; do
    script+="; mkdir -p '${b#*:}'; mount --bind '${b%%:*}' '${b#*:}'"
  done
  if [[ ${TB_SECURITYFS:-} == 1 ]]; then
    # ip netns exec mounts a fresh /sys, without securityfs (AppArmor's
    # interface for loading profiles).
    script+='; mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security'
  fi
  if [[ ${TB_RO_ROOT:-} == 1 ]]; then
    script+='; mount -o remount,bind,ro /'
  fi
  script+='; exec "$@"'
  if [[ -n ${TB_NETNS:-} ]]; then
    ip netns exec "$TB_NETNS" sh -c "$script" sh "$@" >"$log" 2>&1 </dev/null &
  else
    unshare -m --propagation slave sh -c "$script" sh "$@" >"$log" 2>&1 </dev/null &
  fi
  TB_PID=$!
  local st=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    st=$(tb_starttime "$TB_PID") && [[ -n $st ]] && break
    sleep 0.05
  done
  echo "$TB_PID ${st:-0} $name" >>"$TB_STATE/pids"
}

# tb_wait WHAT SECONDS TEST...: polls TEST every 0.1 s; fails with WHAT and
# the daemon's log when it does not succeed in time or the daemon died.
tb_wait() {
  local what=$1 secs=$2 pid=$3 log=$4
  shift 4
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      echo "testbed: $what: the daemon exited; end of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "testbed: $what: not ready within ${secs}s; end of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

tb_unix_up() { # PATH: something listens on the UNIX socket
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
EOF
}

tb_tcp_up() { # NETNS HOST PORT: something listens there (no connection is
  # made, so daemons do not log a half-open handshake)
  [[ -n $(tb_in "$1" ss -Hltn "src $2 and sport = :$3") ]]
}

# tb_stop_recorded PIDFILE: SIGTERM to every recorded process still alive with
# the recorded start time, then SIGKILL after 10 s; then empties the file.
tb_stop_recorded() {
  local file=$1
  [[ -f $file ]] || return 0
  local pid st name live=()
  while read -r pid st name; do
    [[ $pid =~ ^[0-9]+$ ]] || continue
    if [[ $(tb_starttime "$pid" 2>/dev/null) == "$st" ]]; then
      kill -TERM "$pid" 2>/dev/null && live+=("$pid:$st")
    fi
  done < <(tac "$file")
  local deadline=$((SECONDS + 10)) p
  for p in "${live[@]}"; do
    while [[ $(tb_starttime "${p%%:*}" 2>/dev/null) == "${p#*:}" ]]; do
      if ((SECONDS > deadline)); then
        kill -KILL "${p%%:*}" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  done
  : >"$file"
}
