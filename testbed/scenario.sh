# shellcheck shell=bash
# The figure-8 scenario's steps, shared by testbed/demo.sh and the e2e test
# (tests/e2e/testbed). Sourced after up.sh; needs TB_ROOT, TB_PREFIX,
# TB_SITE, TB_BUILD (empty: installed binaries), TB_VMS. Functions print what they do; they return
# non-zero when a step fails.

sc_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sc_guest_exec=$sc_here/guest/guest-exec
# TB_BUILD empty (up.sh --installed): the installed tvdctl.
if [[ -n ${TB_BUILD:-} ]]; then
  sc_tvdctl=$TB_BUILD/tvdctl/tvdctl
else
  sc_tvdctl=$(command -v tvdctl)
fi

# sc_vm FIELD NAME: a field of the VM list (tvd, host, ip, mac).
sc_vm() {
  awk -v n="$2" -v f="$1" '$1 == n {
    if (f == "tvd") print $2; else if (f == "host") print $3;
    else if (f == "ip") { split($4, a, "/"); print a[1] } else if (f == "mac") print $5 }' "$TB_VMS"
}
# VMs of the list that are started (blue-bad is the tampered one).
sc_vms() { awk '$1 !~ /^#/ && NF >= 5 && $1 != "blue-bad" {print $1}' "$TB_VMS"; }
# VMs of the list with a vTPM (sixth field "vtpm").
sc_vtpm_vms() { awk '$1 !~ /^#/ && $6 == "vtpm" {print $1}' "$TB_VMS"; }

sc_hostcmd() { # HOST CMD...: tvdctl host command against HOST's factory
  local h=$1
  shift
  "$sc_tvdctl" "$@" --socket "$TB_ROOT/$h/factory.sock"
}
sc_admin() { # tvdctl admin/rm command as the admin, from the management node
  ip netns exec "$TB_PREFIX-mgmt" env TVDCTL_ADMIN_CONFIG="$TB_SITE/admin.conf" \
    "$sc_tvdctl" "$@"
}
sc_rm() {
  ip netns exec "$TB_PREFIX-mgmt" "$sc_tvdctl" rm --server tcp://127.0.0.1:5561 \
    --server-key "$TB_SITE/rm/server.pub" --key "$TB_SITE/rm/admin" "$@"
}
sc_admin_virsh() { # HOST ARGS...: the admin's virsh on HOST's libvirtd (unfiltered)
  local h=$1
  shift
  virsh -c "qemu+unix:///system?socket=$TB_ROOT/$h/libvirt/sock/libvirt-sock" "$@"
}
sc_tenant_virsh() { # TENANT HOST ARGS...: virsh through HOST's relay, over the underlay
  local who=$1 h=$2
  shift 2
  local addr
  addr=$(sc_host_addr "$h")
  ip netns exec "$TB_PREFIX-mgmt" virsh -c \
    "qemu+tls://$addr:16514/system?pkipath=$TB_SITE/pki/virsh-$who" "$@"
}
sc_host_addr() { echo "198.18.0.$((10 + ${1#h}))"; }
sc_exec() { # VM ARGS...: run in the guest
  local vm=$1
  shift
  "$sc_guest_exec" --socket "$TB_SITE/serial/$vm.sock" "$@"
}

# sc_join: every host joins the TVDs of the VMs it runs.
sc_join() {
  local pairs
  pairs=$(for vm in $(sc_vms); do echo "$(sc_vm host "$vm") $(sc_vm tvd "$vm")"; done | sort -u)
  while read -r h tvd; do
    echo "\$ tvdctl join $tvd   (on $h)"
    sc_hostcmd "$h" join "$tvd" || return 1
  done <<<"$pairs"
}

# sc_attach: attaches every VM on its host (measured against the policy).
sc_attach() {
  local vm
  for vm in $(sc_vms); do
    echo "\$ tvdctl attach $(sc_vm tvd "$vm") vms/$vm.xml   (on $(sc_vm host "$vm"))"
    sc_hostcmd "$(sc_vm host "$vm")" attach "$(sc_vm tvd "$vm")" "$TB_SITE/vms/$vm.xml" ||
      return 1
  done
}

# sc_wait_guests SECONDS: until every started guest answers on its console.
sc_wait_guests() {
  local vm deadline=$((SECONDS + $1))
  for vm in $(sc_vms); do
    [[ -n ${SC_GONE[$vm]:-} ]] && continue
    until sc_exec "$vm" --timeout 10 -- true >/dev/null 2>&1; do
      if ((SECONDS > deadline)); then
        echo "guest $vm did not answer on its console" >&2
        return 1
      fi
      sleep 1
    done
    echo "guest $vm is up ($(sc_exec "$vm" --timeout 10 -- 'ip -o -4 addr show eth0' | awk '{print $4}'))"
  done
}

declare -A SC_GONE=()
declare -A SC_RESULT=()

# sc_matrix: pings every started guest from every other one, from inside the
# guests (in parallel per source guest), fills SC_RESULT[src,dst] with
# "ok" or "--" and prints the matrix. Guests in SC_GONE are shown as gone.
sc_matrix() {
  local tmp vm dst
  tmp=$(mktemp -d)
  local vms=()
  for vm in $(sc_vms); do vms+=("$vm"); done
  for vm in "${vms[@]}"; do
    [[ -n ${SC_GONE[$vm]:-} ]] && continue
    (
      for dst in "${vms[@]}"; do
        [[ $dst == "$vm" ]] && continue
        # Two tries 0.5 s apart, 3 s at most: the first packet of a pair may
        # wait for ARP and for the hosts' IPsec SA.
        if sc_exec "$vm" --timeout 20 -- "ping -c 2 -i 0.5 -w 3 $(sc_vm ip "$dst")" >/dev/null 2>&1; then
          echo "$dst ok"
        else
          echo "$dst --"
        fi
      done >"$tmp/$vm"
    ) &
  done
  wait
  printf '%-10s' "from\\to"
  for dst in "${vms[@]}"; do printf '%-10s' "$dst"; done
  echo
  for vm in "${vms[@]}"; do
    printf '%-10s' "$vm"
    for dst in "${vms[@]}"; do
      local cell
      if [[ $dst == "$vm" ]]; then
        cell="."
      elif [[ -n ${SC_GONE[$vm]:-} || -n ${SC_GONE[$dst]:-} ]]; then
        cell="gone"
      else
        cell=$(awk -v d="$dst" '$1 == d {print $2}' "$tmp/$vm")
      fi
      SC_RESULT[$vm,$dst]=$cell
      printf '%-10s' "$cell"
    done
    echo
  done
  rm -rf "$tmp"
  echo "(ok = ping answered from inside the guest, -- = no answer, gone = VM removed)"
}

# sc_check_matrix: every pair of started guests in the same TVD answers,
# every pair in different TVDs does not. Prints each violation.
sc_check_matrix() {
  local bad=0 a b want
  for a in $(sc_vms); do
    for b in $(sc_vms); do
      [[ $a == "$b" || -n ${SC_GONE[$a]:-} || -n ${SC_GONE[$b]:-} ]] && continue
      if [[ $(sc_vm tvd "$a") == "$(sc_vm tvd "$b")" ]]; then want=ok; else want=--; fi
      if [[ ${SC_RESULT[$a,$b]:-} != "$want" ]]; then
        echo "UNEXPECTED: $a -> $b is '${SC_RESULT[$a,$b]:-}', expected '$want'"
        bad=1
      fi
    done
  done
  ((bad == 0)) && echo "matrix as expected: same TVD answers, different TVDs never"
  return $bad
}

# sc_deep_quote TENANT TVD VM [ARGS...]: TENANT checks the vTPM of VM of
# TVD itself (tvdctl vm attest, the online form, with its own certificate,
# from the management node): the master asks the VM's host for a quote
# of the guest's vTPM, and tvdctl verifies the chain against the VDC CA.
sc_deep_quote() {
  local who=$1 tvd=$2 vm=$3
  shift 3
  echo "\$ tvdctl vm attest $tvd $vm --cert tenant-$who.crt ...   ($who, on mgmt)"
  ip netns exec "$TB_PREFIX-mgmt" "$sc_tvdctl" vm attest "$tvd" "$vm" \
    --master "$TB_MASTERS" --ca "$TB_SITE/pki/ca.crt" \
    --cert "$TB_SITE/pki/tenant-$who.crt" --key "$TB_SITE/pki/tenant-$who.key" "$@"
}

# sc_tenant_names TENANT HOST: domain names TENANT sees through HOST's relay.
sc_tenant_names() {
  sc_tenant_virsh "$1" "$2" list --all --name 2>&1 | sed '/^$/d' | sort
}

# sc_tvd_view: "TVD EPOCH HOST:CONNECTED ..." per TVD, as the replicas that
# answer see it (a host counts as connected when one of them serves it).
sc_tvd_view() {
  local masters=() m tvd
  IFS=, read -r -a masters <<<"${TB_MASTERS:-}"
  for tvd in blue red; do
    for m in "${masters[@]}"; do
      sc_admin tvd show "$tvd" --json --master "$m" 2>/dev/null || true
    done | python3 -c '
import json, sys
tvd, text = sys.argv[1], sys.stdin.read()
epoch, members, at, dec = None, {}, 0, json.JSONDecoder()
while True:
    while at < len(text) and text[at].isspace():
        at += 1
    if at >= len(text):
        break
    try:
        j, at = dec.raw_decode(text, at)
    except ValueError:
        break
    epoch = j.get("epoch", epoch)
    for m in j.get("members", []):
        members[m["host"]] = members.get(m["host"], False) or m.get("connected", False)
print(tvd, epoch, " ".join("%s:%s" % (h, "yes" if c else "no") for h, c in sorted(members.items())))
' "$tvd"
  done
}

# sc_replica_failover: kills the tvd-master of the management node (the
# first of TB_MASTERS, which the hosts joined) by its recorded PID and
# checks, as the tenants would: every host rejoins another replica within
# 60 s, no TVD changes its key epoch, every VM keeps running.
sc_replica_failover() {
  local before after vms_before vms_after pid h
  before=$(sc_tvd_view)
  echo "members (connected to some replica) and key epochs, before:"
  sed 's/^/  /' <<<"$before"
  if ! grep -q ':yes' <<<"$before" || grep -q ':no' <<<"$before"; then
    echo "not every member is connected before the fault"
    return 1
  fi
  vms_before=$(for h in h1 h2; do sc_admin_virsh "$h" list --name; done | sort)
  pid=$(awk '$3 == "tvd-master" {print $1}' "$TB_ROOT/mgmt/pids" | head -1)
  [[ -n $pid ]] || { echo "no tvd-master recorded on mgmt"; return 1; }
  echo "\$ kill -9 $pid   (tvd-master on mgmt, 198.18.0.10)"
  local t0=$SECONDS
  kill -KILL "$pid"
  local deadline=$((SECONDS + 60))
  while true; do
    after=$(sc_tvd_view)
    if grep -q ':yes' <<<"$after" && ! grep -q ':no' <<<"$after"; then
      break
    fi
    if ((SECONDS > deadline)); then
      echo "hosts not back within 60 s: $after"
      return 1
    fi
    sleep 1
  done
  echo "after (every member connected to a replica again $((SECONDS - t0)) s after the kill):"
  sed 's/^/  /' <<<"$after"
  if "$sc_tvdctl" master --help >/dev/null 2>&1; then
    echo "\$ tvdctl master status"
    sc_admin master status || true
  fi
  echo "\$ tvdctl tvd show blue   (answered by a live replica)"
  sc_admin tvd show blue || return 1
  # The same members, all connected again, and the same epochs: no rekey.
  local strip='s/:yes//g; s/:no//g'
  if [[ $(sed "$strip" <<<"$before") != $(sed "$strip" <<<"$after") ]]; then
    echo "the TVDs changed: before [$before] after [$after]"
    return 1
  fi
  vms_after=$(for h in h1 h2; do sc_admin_virsh "$h" list --name; done | sort)
  if [[ $vms_before != "$vms_after" ]]; then
    echo "running VMs changed: before [$vms_before] after [$vms_after]"
    return 1
  fi
  echo "same members, same key epochs, the same VMs running"
}
