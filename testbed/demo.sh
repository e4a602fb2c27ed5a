#!/usr/bin/env bash
# The demo (scripts/demo.sh runs it after building): brings up the namespace
# testbed (testbed/up.sh: a management node and 2 compute hosts) and plays
# the figure-8 scenario with real guests: TVDs blue and red, one VM of each
# on both hosts; the isolation matrix measured from inside the guests; each
# tenant's view through the relay next to the admin's; attestation state;
# a tenant's own check of its VM's vTPM (tvdctl vm attest, the deep quote);
# the resource manager's view; then host h2 leaves red, and a VM whose image
# was altered after it was measured is refused, and a hostile tenant's
# request for a host file is refused by the relay. docs/testbed.md explains
# the output.
#
# Usage: testbed/demo.sh [--masters R] BUILD_DIR|--installed
# --installed: the installed binaries (the Debian packages', on PATH) in
# place of a build tree's (up.sh --installed).
# --masters R (R >= 3 makes sense; up.sh allows 1..5): R tvd-master replicas
# on a clustered OVSDB store; after the first isolation matrix the master
# the hosts joined is killed (kill -9), and the demo shows that the hosts
# rejoin another replica without a new key epoch, the VMs keep running and
# the isolation matrix is unchanged.
# Environment: TB_KEEP=1 leaves the testbed up afterwards (testbed/down.sh
# removes it); otherwise it is torn down at the end. TB_ROOT, TB_PREFIX,
# TB_GUEST as for up.sh.
# Exit status 0 when every step behaved as the scenario expects.
set -euo pipefail
masters=1
if [[ ${1:-} == --masters ]]; then
  masters=${2:-}
  shift 2 || true
fi
if [[ $# -ne 1 || ! $masters =~ ^[1-5]$ ]]; then
  echo "usage: $0 [--masters 1..5] BUILD_DIR|--installed" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
if [[ $1 == --installed ]]; then
  build=""
  up_from=--installed
  tvdctl=$(command -v tvdctl) ||
    { echo "demo: tvdctl is not on PATH; install the packages (docs/install.md)" >&2; exit 1; }
else
  build=$(cd "$1" && pwd)
  up_from=$build
  tvdctl=$build/tvdctl/tvdctl
  [[ -x $tvdctl ]] || { echo "demo: $tvdctl not found; build first (scripts/build.sh release)" >&2; exit 1; }
fi
export TB_ROOT=${TB_ROOT:-/run/tvd-testbed}
export TB_PREFIX=${TB_PREFIX:-tvdtb}
export TB_VMS=$here/scenario.vms
export TB_BUILD=$build TB_SITE=$TB_ROOT/site

rule() { printf '\n==== %s ====\n' "$*"; }
failures=0
fail() { echo "DEMO STEP FAILED: $*"; failures=$((failures + 1)); }
finish() {
  if [[ ${TB_KEEP:-0} == 1 ]]; then
    echo "testbed left up (TB_KEEP=1): $TB_ROOT; remove it with testbed/down.sh"
  else
    rule "testbed/down.sh"
    "$here/down.sh" || true
  fi
}
trap finish EXIT

rule "the policy templates (policy-templates/*.xml)"
"$tvdctl" policy validate "$here"/../policy-templates/*.xml || fail "policy templates"

rule "testbed/up.sh: management node + 2 compute hosts (network namespaces)"
"$here/up.sh" --masters "$masters" "$up_from" 2
# shellcheck source=/dev/null
source "$TB_ROOT/env"
# shellcheck source=testbed/scenario.sh
source "$here/scenario.sh"
if ((masters > 1)); then
  echo "  mgmt  198.18.0.10  VDC CA, tvd-master replica 1 + store server 1, rm-server"
  for ((r = 2; r <= masters; r++)); do
    echo "  m$r    198.18.0.$r   tvd-master replica $r + store server $r (clustered OVSDB)"
  done
else
  echo "  mgmt  198.18.0.10  VDC CA, tvd-master, rm-server"
fi
cat <<TXT
  h1    198.18.0.11  OVS, charon, swtpm, libvirtd (QEMU), relay, proxy-factory, rm-agent
  h2    198.18.0.12  the same
  policies: $TB_SITE/policies/{blue,red}.xml   VM configurations: $TB_SITE/vms/
TXT

rule "TVD policy blue, derived from policy-templates/blue.xml (red likewise)"
echo "\$ tvdctl policy show site/policies/blue.xml"
"$sc_tvdctl" policy show "$TB_SITE/policies/blue.xml" || fail "policy show"

rule "hosts join the TVDs (attested by the master)"
sc_join || fail "join"
for h in h1 h2; do
  echo "\$ tvdctl status   (on $h)"
  sc_hostcmd "$h" status || fail "status on $h"
done

rule "VMs attached (measured against the TVD policy, then started under QEMU/TCG)"
sc_attach || fail "attach"
sc_wait_guests 120 || fail "guests did not boot"

rule "isolation matrix (ping from inside each guest)"
sc_matrix
sc_check_matrix || fail "isolation matrix"

if ((masters > 1)); then
  rule "the master the hosts joined dies (kill -9); the other replicas carry on"
  sc_replica_failover || fail "master fail-over"
  rule "isolation matrix after the master died"
  sc_matrix
  sc_check_matrix || fail "isolation matrix after the master died"
fi

rule "each tenant's view through the relay (virsh over TLS) vs. the admin's"
for h in h1 h2; do
  addr=$(sc_host_addr "$h")
  for who in blue-tenant red-tenant; do
    echo "\$ virsh -c 'qemu+tls://$addr:16514/system?pkipath=.../virsh-$who' list --all   ($who)"
    sc_tenant_virsh "$who" "$h" list --all || fail "$who view of $h"
  done
  echo "\$ virsh -c qemu:///system list --all   (admin on $h, libvirtd directly)"
  sc_admin_virsh "$h" list --all || fail "admin view of $h"
done

rule "attestation state (tvdctl tvd list / show, as the admin on the master)"
sc_admin tvd list || fail "tvd list"
sc_admin tvd show blue || fail "tvd show blue"
sc_admin tvd show red || fail "tvd show red"

rule "a tenant checks its VM's vTPM itself (the deep quote)"
for vm in $(sc_vtpm_vms); do
  tvd=$(sc_vm tvd "$vm")
  sc_deep_quote "$tvd-tenant" "$tvd" "$vm" || fail "deep quote of $vm"
  other=red-tenant
  [[ $tvd == red ]] && other=blue-tenant
  if out=$(sc_deep_quote "$other" "$tvd" "$vm" 2>&1); then
    echo "$out"
    fail "$other got the deep quote of $vm"
  else
    echo "$out"
    grep -q "is not tenant:$other's" <<<"$out" || fail "refusal of $other does not say why"
  fi
done

rule "resource manager (tvdctl rm)"
sc_rm agents || fail "rm agents"
for h in h1 h2; do sc_rm domains "$h" || fail "rm domains $h"; done

rule "admin overview"
if "$sc_tvdctl" vdc --help >/dev/null 2>&1; then
  echo "\$ tvdctl vdc overview   (admin, on mgmt: master + rm-server in one view)"
  sc_admin vdc overview --rm-server tcp://127.0.0.1:5561 \
    --rm-server-key "$TB_SITE/rm/server.pub" --rm-key "$TB_SITE/rm/admin" ||
    fail "vdc overview"
else
  echo "(tvdctl vdc overview is not in this build)"
fi
if grep -q tvd-overview "$TB_ROOT/mgmt/pids" 2>/dev/null; then
  echo "web overview: http://127.0.0.1:8080/ inside namespace $TB_PREFIX-mgmt"
  echo "  (e.g. ip netns exec $TB_PREFIX-mgmt curl -s http://127.0.0.1:8080/)"
fi

rule "h2 leaves TVD red"
echo "\$ tvdctl leave red   (on h2)"
sc_hostcmd h2 leave red || fail "leave"
for vm in $(sc_vms); do
  if [[ $(sc_vm host "$vm") == h2 && $(sc_vm tvd "$vm") == red ]]; then SC_GONE[$vm]=1; fi
done
echo "\$ virsh -c qemu:///system list --all   (admin on h2)"
sc_admin_virsh h2 list --all
if sc_admin_virsh h2 list --all --name | grep -q '^red-'; then fail "red VM still on h2"; fi
sc_admin tvd show red || fail "tvd show red"
rule "isolation matrix after the leave"
sc_matrix
sc_check_matrix || fail "isolation matrix after leave"

rule "a VM whose disk image changed after it was measured is refused"
img=$TB_SITE/images/blue-bad.img
printf 'tampered' | dd of="$img" bs=1 seek=4096 conv=notrunc status=none
echo "(wrote 8 bytes into $img)"
echo "\$ tvdctl attach blue vms/blue-bad.xml   (on h1)"
if out=$(sc_hostcmd h1 attach blue "$TB_SITE/vms/blue-bad.xml" 2>&1); then
  echo "$out"
  fail "tampered VM was accepted"
else
  echo "$out"
  grep -q "measured disk" <<<"$out" || fail "refusal does not name the measurement"
fi
if sc_admin_virsh h1 list --all --name | grep -q '^blue-bad$'; then fail "blue-bad is defined"; fi

rule "a hostile tenant asks h1's relay for the host (refused, nothing stored)"
hostile=$TB_SITE/red-hostile.xml
cat >"$hostile" <<'XML'
<domain type='qemu'>
  <name>red-hostile</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <serial type='file'><source path='/root/tvd-demo-owned'/></serial>
  </devices>
</domain>
XML
echo "\$ virsh define red-hostile.xml   (red, through h1's relay: a serial port writing /root/tvd-demo-owned)"
if out=$(sc_tenant_virsh red-tenant h1 define "$hostile" 2>&1); then
  echo "$out"
  fail "the relay accepted a domain that writes a host file"
else
  echo "$out"
  grep -q "operation forbidden: /domain/devices/serial/@type: 'file'" <<<"$out" ||
    fail "refusal does not name the serial port"
fi
echo "\$ virsh domcapabilities --emulatorbin /bin/sh   (red, through h1's relay)"
if out=$(sc_tenant_virsh red-tenant h1 domcapabilities --emulatorbin /bin/sh 2>&1); then
  fail "the relay let a tenant name a host binary"
else
  echo "$out"
  grep -q "operation forbidden: emulator '/bin/sh'" <<<"$out" ||
    fail "refusal does not name the emulator"
fi
if sc_admin_virsh h1 list --all --name | grep -q '^red-hostile$'; then fail "red-hostile is defined"; fi
[[ -e /root/tvd-demo-owned ]] && fail "/root/tvd-demo-owned was created"
rm -f "$hostile"

rule "summary"
if ((failures == 0)); then
  echo "demo: every step behaved as expected"
else
  echo "demo: $failures step(s) failed (see DEMO STEP FAILED above)"
  exit 1
fi
