#!/usr/bin/env bash
# Provisions the management node: the VDC CA and every certificate, the TVD
# policies, the VM configurations, tvd-master, rm-server, and tvd-overview
# (listening on 127.0.0.1:8080) when it is built.
#
# Usage:
#   mgmt.sh pki HOST:ADDR...   CA + certificates + rm keys into $TB_SITE
#                              (idempotent: existing files are kept)
#   mgmt.sh start              policies and VM configurations (needs the
#                              hosts' facts in $TB_SITE/hosts, written by
#                              `host.sh tpm`), master configuration, KEK,
#                              EK allow-list; starts tvd-master and rm-server
#                              (with TB_REPLICAS > 1 first the store's first
#                              server, which creates the cluster)
#   mgmt.sh replica I ADDR     master replica I (>= 2) at ADDR: its store
#                              server joins the cluster, then its tvd-master
#                              (the same KEK, policies and EK allow-list)
#
# Environment: see common.sh (TB_SITE, TB_STATE, TB_NETNS, TB_BUILD, ...) and
#   TB_GUEST   directory with the guest image (vmlinuz, initrd.img, disk.img;
#              testbed/guest/build-guest.sh)
#   TB_VMS     file of the scenario's VMs, one per line:
#              NAME TVD HOST IPV4/PREFIX MAC [vtpm]
#              (every VM gets a measured configuration and its own copy of
#              the disk image in $TB_SITE/images; the policies list them;
#              with "vtpm" the configuration asks for a vTPM, <tvd:vtpm/>,
#              and its TVD's policy gives it one)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=testbed/provision/lib.sh
source "$here/lib.sh"
# shellcheck source=testbed/provision/common.sh
source "$here/common.sh"
: "${TB_SITE:?}" "${TB_STATE:?}"
# Root-only unless QEMU must pass through (tb_qemu_dir).
umask 027
mkdir -p "$TB_SITE" "$TB_STATE"
chmod 700 "$TB_STATE"
tb_qemu_dir "$TB_SITE"
tvdctl=$(tb_bin tvdctl) || tb_die "tvdctl not built"
pki=$(tb_pki)

cmd_pki() {
  mkdir -p "$pki"
  chmod 700 "$pki"
  [[ -f $pki/ca.crt ]] || "$tvdctl" pki init --dir "$pki" --name "$TB_CA_NAME" >/dev/null
  issue() { # ROLE NAME [SAN...]
    local role=$1 name=$2
    shift 2
    [[ -f $pki/$role-$name.crt ]] && return 0
    local sans=()
    for s in "$@"; do sans+=(--san "$s"); done
    "$tvdctl" pki issue "$role" "$name" --dir "$pki" "${sans[@]}" >/dev/null
  }
  # The master's certificate is a host-role certificate named tvd-master:
  # proxies and tvdctl expect exactly that peer.
  # Every replica presents this one certificate, valid for each address.
  local master_sans=() a
  for a in ${TB_MASTER_ADDRS:-$TB_MGMT_ADDR}; do master_sans+=("IP:$a"); done
  issue host tvd-master "${master_sans[@]}"
  issue admin admin
  issue tenant blue-tenant
  issue tenant red-tenant
  local h
  for h in "$@"; do
    issue host "${h%%:*}" "IP:${h#*:}"
    issue host "relay-${h%%:*}" "IP:${h#*:}"
  done
  # pkipath directories for virsh (libvirt's fixed file names).
  local who
  for who in blue-tenant red-tenant; do
    mkdir -p "$pki/virsh-$who"
    chmod 700 "$pki/virsh-$who"
    cp "$pki/ca.crt" "$pki/virsh-$who/cacert.pem"
    cp "$pki/tenant-$who.crt" "$pki/virsh-$who/clientcert.pem"
    install -m 600 "$pki/tenant-$who.key" "$pki/virsh-$who/clientkey.pem"
  done
  # rm keys: server, one per agent, the admin's.
  local rm=$TB_SITE/rm rmserver
  rmserver=$(tb_bin rm-server) || tb_die "rm-server not built"
  mkdir -p "$rm"
  chmod 700 "$rm"
  [[ -f $rm/server.pub ]] || "$rmserver" keygen "$rm/server" >/dev/null
  [[ -f $rm/admin.pub ]] || "$rmserver" keygen "$rm/admin" >/dev/null
  : >"$rm/agents.list.new"
  for h in "$@"; do
    [[ -f $rm/${h%%:*}.pub ]] || "$rmserver" keygen "$rm/${h%%:*}" >/dev/null
    echo "$(cat "$rm/${h%%:*}.pub") ${h%%:*}" >>"$rm/agents.list.new"
  done
  mv "$rm/agents.list.new" "$rm/agents.list"
  echo "$(cat "$rm/admin.pub") admin" >"$rm/admins.list"
  printf '%s\n' "$@" >"$TB_SITE/hosts.list"
}

# The host requirements every TVD of the testbed demands (DIR: a scratch
# directory): the measured boot the hosts' event logs show
# (measured_boot_draft), or, without logs, the hosts' TPM PCR values as read
# at provisioning (docs/policy.md section 2). The policy templates also pin
# an IMA allowlist; namespace hosts have no IMA log of their own, so the
# derived policies leave it out.
host_requirements() {
  local idx values v
  echo '  <host-requirements allow-no-tpm="false" attestation-interval="300">'
  if measured_boot_draft "$1"; then
    echo '  </host-requirements>'
    return
  fi
  for idx in 0 2 4 7; do
    values=$(awk -v i="$idx" '$1 == i {print $2}' "$TB_SITE"/hosts/*.pcrs | sort -u)
    [[ -n $values ]] || tb_die "no PCR $idx value in $TB_SITE/hosts/*.pcrs"
    printf '    <pcr bank="sha256" index="%s">' "$idx"
    for v in $values; do printf '<known-good value="%s"/>' "$v"; done
    printf '</pcr>\n'
  done
  echo '  </host-requirements>'
}

# measured_boot_draft DIR: when every host sent its boot's event log
# (host.sh tpm), the measured-boot policy `tvdctl policy measured-boot`
# drafts from the first host's log (the hosts boot the same firmware and
# loaders), indented for <host-requirements>, in place of pinned PCR
# values; every host's log must replay to the same PCRs (same bytes).
# Returns 1 (nothing printed) when a host has no log.
measured_boot_draft() {
  local tmp=$1 logs first
  logs=$(ls "$TB_SITE"/hosts/*.eventlog 2>/dev/null | wc -l)
  [[ $logs -gt 0 && $logs == $(wc -l <"$TB_SITE/hosts.list") ]] || return 1
  first=$(ls "$TB_SITE"/hosts/*.eventlog | head -n 1)
  for log in "$TB_SITE"/hosts/*.eventlog; do
    cmp -s "$first" "$log" || tb_die "host logs differ: $first, $log"
  done
  "$tvdctl" policy measured-boot "$first" --out "$tmp/measured-boot.xml" ||
    tb_die "tvdctl policy measured-boot $first failed"
  sed 's/^/    /' "$tmp/measured-boot.xml"
}

# derive_policy TVD: policy-templates/TVD.xml with the tenant's real subject,
# the hosts' PCRs, the testbed's hosts and the scenario's VMs (measured).
derive_policy() {
  local tvd=$1 tmp
  tmp=$(mktemp -d)
  host_requirements "$tmp" >"$tmp/req"
  {
    echo '  <authorized-hosts>'
    local h
    while read -r h; do
      echo "    <host subject=\"CN=${h%%:*},OU=host,O=$TB_CA_NAME\"/>"
    done <"$TB_SITE/hosts.list"
    echo '  </authorized-hosts>'
  } >"$tmp/hosts"
  {
    echo '  <vms>'
    local name owner rest
    while read -r name owner rest; do
      [[ -n $name && $name != \#* && $owner == "$tvd" ]] || continue
      echo "    <vm name=\"$name\">"
      # The measures tvdctl policy derive computed, as the policy's values.
      sed -n 's/.*<tvd:measure \(.*sha256="[0-9a-f]*"\).*/      <measure \1\/>/p' \
        "$TB_SITE/vms/$name.xml"
      echo '    </vm>'
    done <"$TB_VMS"
    echo '  </vms>'
  } >"$tmp/vms"
  {
    local name owner rest
    while read -r name owner _ _ _ rest; do
      [[ -n $name && $name != \#* && $owner == "$tvd" && $rest == vtpm ]] ||
        continue
      echo "    <vtpm vm=\"$name\"/>"
    done <"$TB_VMS"
  } >"$tmp/vtpms"
  python3 - "$repo/policy-templates/$tvd.xml" "$tmp" "CN=$tvd-tenant,OU=tenant,O=$TB_CA_NAME" \
    >"$TB_SITE/policies/$tvd.xml" <<'EOF'
import re, sys
src, tmp, owner = sys.argv[1:4]
text = open(src).read()
def block(tag, repl):
    global text
    new, n = re.subn(r'[ \t]*<%s\b.*?</%s>\n' % (tag, tag), lambda m: repl, text,
                     count=1, flags=re.S)
    if n != 1:
        sys.exit('%s: no <%s> block' % (src, tag))
    text = new
block('host-requirements', open(tmp + '/req').read())
block('authorized-hosts', open(tmp + '/hosts').read())
block('vms', open(tmp + '/vms').read())
# The testbed's scenario has no gateway VM and no encrypted disk; the keys
# it releases are the vTPMs of the VMs marked "vtpm".
text = re.sub(r'\s*<!--[^>]*-->\s*<gateways>.*?</gateways>', '', text, flags=re.S)
vtpms = open(tmp + '/vtpms').read()
release = ('\n\n  <!-- The vTPMs of testbed/scenario.vms. -->\n  <key-release>\n' +
           vtpms + '  </key-release>') if vtpms else ''
text = re.sub(r'\s*<!--[^>]*-->\s*<key-release>.*?</key-release>',
              lambda m: release, text, flags=re.S)
text = re.sub(r'<owner subject="[^"]*"/>', '<owner subject="%s"/>' % owner, text)
text = re.sub(r'<!--.*?-->\n', '<!-- Derived by testbed/provision/mgmt.sh from %s. -->\n'
              % src.split('/')[-1], text, count=1, flags=re.S)
sys.stdout.write(text)
EOF
  rm -rf "$tmp"
  "$tvdctl" policy validate "$TB_SITE/policies/$tvd.xml" >/dev/null
}

# derive_vm NAME TVD IP MAC [vtpm]: a final VM configuration from the
# testbed's VM template, measured by tvdctl policy derive.
derive_vm() {
  local name=$1 tvd=$2 ip=$3 mac=$4 vtpm=""
  [[ ${5:-} == vtpm ]] && vtpm='<tvd:vtpm/>'
  local img=$TB_SITE/images
  cp --reflink=auto "$TB_GUEST/disk.img" "$img/$name.img"
  sed -e "s|@NAME@|$name|g" -e "s|@TVD@|$tvd|g" -e "s|@IP@|$ip|g" \
    -e "s|@MAC@|$mac|g" -e "s|@NIC@|tb-$name|g" \
    -e "s|@SERIAL@|$TB_SITE/serial/$name.sock|g" -e "s|@VTPM@|$vtpm|g" \
    "$here/vm-template.xml" >"$TB_SITE/vms/$name.template.xml"
  "$tvdctl" policy derive --template "$TB_SITE/vms/$name.template.xml" \
    --name "$name" --kernel "$img/vmlinuz" --initrd "$img/initrd.img" \
    --disk "vda=$img/$name.img" --net "tb-$name=$tvd-data" \
    --out "$TB_SITE/vms/$name.xml" >/dev/null
  rm -f "$TB_SITE/vms/$name.template.xml"
}

# store_server I ADDR: replica I's OVSDB server for the masters' state
# (database TVD_Master, tvd-master/tvd_master.ovsschema): server 1 creates
# the Raft cluster, the others join it through server 1. Raft on ADDR:6641,
# masters on ADDR:6640 (underlay only), ovs-appctl on $TB_STATE/store.
store_server() {
  local i=$1 addr=$2 s=$TB_STATE/store
  mkdir -p "$s"
  chmod 700 "$s"
  if [[ ! -f $s/store.db ]]; then
    if ((i == 1)); then
      # The installed schema (package tvd-master) with installed binaries.
      local schema=$repo/tvd-master/tvd_master.ovsschema
      if [[ -z $TB_BUILD && -f /usr/share/tvd-master/tvd_master.ovsschema ]]; then
        schema=/usr/share/tvd-master/tvd_master.ovsschema
      fi
      ovsdb-tool create-cluster "$s/store.db" "$schema" "tcp:$addr:6641"
    else
      ovsdb-tool join-cluster "$s/store.db" TVD_Master "tcp:$addr:6641" \
        "tcp:$TB_MGMT_ADDR:6641"
    fi
  fi
  tb_spawn "store-server" "$s/store.log" "" ovsdb-server "$s/store.db" \
    --remote="ptcp:6640:$addr" --remote="punix:$s/store.sock" \
    --unixctl="$s/store.ctl" --no-chdir
  tb_wait "store server $i" 20 "$TB_PID" "$s/store.log" \
    tb_tcp_up "$TB_NETNS" "$addr" 6640
  tb_wait "store server $i: cluster member" 30 "$TB_PID" "$s/store.log" \
    store_member "$s/store.ctl"
}
store_member() {
  ovs-appctl -t "$1" cluster/status TVD_Master | grep -q '^Status: cluster member'
}

# The masters' store line: every replica's store server.
store_remotes() {
  local list="" a
  for a in $TB_MASTER_ADDRS; do list+="${list:+,}tcp:$a:6640"; done
  echo "ovsdb:$list"
}

# master_config ADDR DIR: a tvd-master configuration listening on ADDR with
# its KEK and EK allow-list in DIR; with replicas, the state on the store.
master_config() {
  local addr=$1 m=$2
  cat <<EOF
# Written by testbed/provision/mgmt.sh.
listen_address = $addr
listen_port = $TB_MASTER_PORT
ca_cert = $pki/ca.crt
cert = $pki/host-tvd-master.crt
key = $pki/host-tvd-master.key
policy_dir = $TB_SITE/policies
kek_file = $m/master.kek
ek_allowlist = $m/eks.txt
EOF
  if ((${TB_REPLICAS:-1} > 1)); then
    echo "store = $(store_remotes)"
  else
    echo "state_db = $m/state.db"
  fi
}

start_master() { # ADDR DIR
  local addr=$1 m=$2 bin
  master_config "$addr" "$m" >"$m/master.conf"
  bin=$(tb_bin tvd-master) || tb_die "tvd-master not built"
  tb_spawn tvd-master "$m/master.log" "" "$bin" --config "$m/master.conf"
  tb_wait "tvd-master" 20 "$TB_PID" "$m/master.log" \
    tb_tcp_up "$TB_NETNS" "$addr" "$TB_MASTER_PORT"
}

cmd_replica() {
  local i=$1 addr=$2 first=$TB_ROOT/mgmt/master
  [[ -f $first/master.kek ]] || tb_die "no KEK on the management node (mgmt.sh start first)"
  store_server "$i" "$addr"
  local m=$TB_STATE/master
  mkdir -p "$m"
  chmod 700 "$m"
  # The replicas of one store share its KEK (docs/master.md section 6a).
  install -m 600 "$first/master.kek" "$m/master.kek"
  install -m 600 "$first/eks.txt" "$m/eks.txt"
  start_master "$addr" "$m"
}

cmd_start() {
  : "${TB_GUEST:?}" "${TB_VMS:?}"
  local h
  for h in $(cut -d: -f1 "$TB_SITE/hosts.list"); do
    [[ -f $TB_SITE/hosts/$h.ek && -f $TB_SITE/hosts/$h.pcrs ]] ||
      tb_die "no TPM facts of host $h (run host.sh tpm on it first)"
  done
  mkdir -p "$TB_SITE"/{policies,vms}
  # QEMU's: libvirt chowns each VM's files to libvirt-qemu while it runs and
  # makes its serial socket; the directories only let it pass.
  tb_qemu_dir "$TB_SITE/images" "$TB_SITE/serial"
  cp "$TB_GUEST/vmlinuz" "$TB_GUEST/initrd.img" "$TB_SITE/images/"
  local name tvd ip mac extra
  while read -r name tvd _ ip mac extra; do
    [[ -n $name && $name != \#* ]] || continue
    derive_vm "$name" "$tvd" "$ip" "$mac" "$extra"
  done <"$TB_VMS"
  derive_policy blue
  derive_policy red

  local m=$TB_STATE/master
  mkdir -p "$m"
  chmod 700 "$m"
  if [[ ! -f $m/master.kek ]]; then
    (umask 077 && head -c 32 /dev/urandom >"$m/master.kek")
  fi
  for h in $(cut -d: -f1 "$TB_SITE/hosts.list"); do
    echo "$h $(cat "$TB_SITE/hosts/$h.ek")"
  done >"$m/eks.txt"
  if ((${TB_REPLICAS:-1} > 1)); then
    store_server 1 "$TB_MGMT_ADDR"
  fi
  start_master "$TB_MGMT_ADDR" "$m"

  local rm=$TB_SITE/rm bin
  bin=$(tb_bin rm-server) || tb_die "rm-server not built"
  tb_spawn rm-server "$TB_STATE/rm-server.log" "" "$bin" \
    --agent-endpoint "tcp://$TB_MGMT_ADDR:$TB_RM_AGENT_PORT" \
    --query-endpoint "tcp://127.0.0.1:5561" --key "$rm/server" \
    --agents "$rm/agents.list" --admins "$rm/admins.list"
  tb_wait "rm-server" 20 "$TB_PID" "$TB_STATE/rm-server.log" \
    tb_tcp_up "$TB_NETNS" 127.0.0.1 5561

  # tvdctl's admin defaults for this node.
  cat >"$TB_SITE/admin.conf" <<EOF
master = $TB_MASTERS
ca = $pki/ca.crt
cert = $pki/admin-admin.crt
key = $pki/admin-admin.key
EOF

  # The admin overview (web page on 127.0.0.1:8080 of this node), when built.
  if bin=$(tb_bin tvd-overview 2>/dev/null); then
    tb_spawn tvd-overview "$TB_STATE/overview.log" "" "$bin" \
      --master "$TB_MASTERS" --ca "$pki/ca.crt" \
      --cert "$pki/admin-admin.crt" --key "$pki/admin-admin.key" \
      --rm-server tcp://127.0.0.1:5561 --rm-server-key "$rm/server.pub" \
      --rm-key "$rm/admin" --listen 127.0.0.1:8080
    tb_wait tvd-overview 20 "$TB_PID" "$TB_STATE/overview.log" \
      tb_tcp_up "$TB_NETNS" 127.0.0.1 8080
  fi
}

case ${1:-} in
  pki) shift; cmd_pki "$@" ;;
  start) cmd_start ;;
  replica) shift; cmd_replica "$@" ;;
  *) echo "usage: mgmt.sh pki HOST:ADDR... | start | replica I ADDR" >&2; exit 2 ;;
esac
