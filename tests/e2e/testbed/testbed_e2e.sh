#!/usr/bin/env bash
# End to end on the namespace testbed with this build's binaries: up (mgmt +
# 2 hosts), both hosts join blue and red, three real guests (blue on h1 and
# h2, red on h1; blue-h1 with a vTPM), the isolation matrix measured from
# inside the guests, each tenant's view through both relays and the admin's,
# blue's own check of blue-h1's vTPM (the deep quote, through the master and
# h1's proxy to the guest's agent) and red's refused; then h2 leaves red and
# blue must still pass between the hosts; then down, and nothing is left.
# Names are unique per run (pid), so it runs next to other tests and a demo.
#
# Usage: testbed_e2e.sh BUILD_DIR
set -euo pipefail
(($# == 1)) || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=$(cd "$1" && pwd)
export TB_ROOT=/run/tvd-e2e-$$ TB_PREFIX=tve$$ TB_BUILD=$build
export TB_SITE=$TB_ROOT/site
vms=$(mktemp /tmp/tvd-e2e-vms.XXXXXX)
cat >"$vms" <<VMS
blue-h1 blue h1 10.1.0.11/8 52:54:00:01:00:11 vtpm
blue-h2 blue h2 10.1.0.12/8 52:54:00:01:00:12
red-h1  red  h1 10.2.0.11/8 52:54:00:02:00:11
VMS
export TB_VMS=$vms
failures=0
check() { # WHAT EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then
    echo "PASS: $1"
  else
    echo "FAIL: $1: expected [$2], got [$3]"
    failures=$((failures + 1))
  fi
}
cleanup() {
  "$root/testbed/down.sh" || failures=$((failures + 1))
  rm -f "$vms"
}
trap cleanup EXIT

"$root/testbed/up.sh" "$build" 2
# shellcheck source=/dev/null
source "$TB_ROOT/env"  # TB_MASTERS, as the demo has it
# shellcheck source=testbed/scenario.sh
source "$root/testbed/scenario.sh"
# shellcheck source=testbed/provision/lib.sh
source "$root/testbed/provision/lib.sh"
# The hosts' measured boot: each swtpm holds a synthetic boot's events, the
# policies judge the event log the proxies send (not pinned PCR values),
# and the joins below pass that check.
check "blue's host requirements are a measured-boot policy" yes \
  "$(grep -q '<measured-boot secure-boot="required">' "$TB_SITE/policies/blue.xml" &&
     ! grep -q '<pcr ' "$TB_SITE/policies/blue.xml" && echo yes || echo no)"
sc_join
# h2 joins red too (no red VM there), so h1 and h2 hold tunnels of both TVDs
# and the leave below must keep blue's.
echo "\$ tvdctl join red   (on h2)"
sc_hostcmd h2 join red
sc_attach
sc_wait_guests 150
sc_matrix
sc_check_matrix || failures=$((failures + 1))
check "blue-h1 reaches blue-h2" ok "${SC_RESULT[blue-h1,blue-h2]}"
check "blue-h2 reaches blue-h1" ok "${SC_RESULT[blue-h2,blue-h1]}"
check "red-h1 does not reach blue-h1" -- "${SC_RESULT[red-h1,blue-h1]}"
check "blue-h2 does not reach red-h1" -- "${SC_RESULT[blue-h2,red-h1]}"

check "blue's view of h1" "blue-h1" "$(sc_tenant_names blue-tenant h1 | tr '\n' ' ' | sed 's/ $//')"
check "red's view of h1" "red-h1" "$(sc_tenant_names red-tenant h1 | tr '\n' ' ' | sed 's/ $//')"
check "blue's view of h2" "blue-h2" "$(sc_tenant_names blue-tenant h2 | tr '\n' ' ' | sed 's/ $//')"
check "red's view of h2" "" "$(sc_tenant_names red-tenant h2 | tr '\n' ' ' | sed 's/ $//')"
check "admin's view of h1" "blue-h1 red-h1" \
  "$(sc_admin_virsh h1 list --all --name | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')"

# The deep quote: the guest extends PCR 16 of its vTPM, and blue's own
# verification of blue-h1's chain shows the value; red may not ask; a VM
# without a vTPM has none to show.
measured=$(printf 'e2e measurement' | sha256sum | cut -d' ' -f1)
sc_exec blue-h1 -- "tvd-guest-attest --tpm /dev/tpmrm0 extend 16 $measured"
pcr16=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes(32) + bytes.fromhex(sys.argv[1])).hexdigest())' "$measured")
quote=$(sc_deep_quote blue-tenant blue blue-h1 --pcrs 0,7,16 2>&1) && rc=0 || rc=$?
echo "$quote"
check "blue's deep quote shows the guest's PCR 16" "  PCR 16        $pcr16" \
  "$(grep '^  PCR 16 ' <<<"$quote")"
check "blue's deep quote of blue-h1: exit status" 0 "$rc"
check "blue's deep quote of blue-h1: verdict" \
  "deep quote verified: VM blue-h1 of TVD blue" \
  "$(grep '^deep quote' <<<"$quote" || true)"
check "blue's deep quote of blue-h1: host" yes \
  "$(grep -qE '^  host +h1 \(member\)$' <<<"$quote" && echo yes || echo no)"
refused=$(sc_deep_quote red-tenant blue blue-h1 2>&1) && rc=0 || rc=$?
echo "$refused"
check "red's deep quote of blue-h1 is refused" 1 "$rc"
check "red's refusal says why" yes \
  "$(grep -q "TVD blue is not tenant:red-tenant's" <<<"$refused" && echo yes || echo no)"
novtpm=$(sc_deep_quote red-tenant red red-h1 2>&1) && rc=0 || rc=$?
echo "$novtpm"
check "red-h1 has no vTPM to show" yes \
  "$(grep -q "VM red-h1 of TVD red has no vTPM bound" <<<"$novtpm" && echo yes || echo no)"

# h2 leaves red: blue between h1 and h2 is unaffected, red stays on h1.
echo "\$ tvdctl leave red   (on h2)"
sc_hostcmd h2 leave red
check "red's members after the leave" "h1" \
  "$(sc_admin tvd show red --json | python3 -c 'import json,sys; print(" ".join(m["host"] for m in json.load(sys.stdin)["members"]))')"
sc_matrix
check "after the leave: blue-h1 reaches blue-h2" ok "${SC_RESULT[blue-h1,blue-h2]}"
check "after the leave: blue-h2 reaches blue-h1" ok "${SC_RESULT[blue-h2,blue-h1]}"
check "after the leave: red-h1 does not reach blue-h2" -- "${SC_RESULT[red-h1,blue-h2]}"
check "after the leave: red's view of h1" "red-h1" "$(sc_tenant_names red-tenant h1 | tr '\n' ' ' | sed 's/ $//')"

# Every process the testbed started, the QEMUs of its libvirtds ...
started=$(cat "$TB_ROOT"/*/pids)
for f in "$TB_ROOT"/h*/libvirt/run/qemu/*.pid "$TB_ROOT"/h*/libvirt/run/qemu/swtpm/*.pid; do
  [[ -f $f ]] || continue
  p=$(cat "$f")
  started+=$'\n'"$p $(tb_starttime "$p") qemu"
done
# ... and whatever else runs in its namespaces (the proxies).
for ns in $(cat "$TB_ROOT/netns"); do
  for p in $(ip netns pids "$ns"); do
    started+=$'\n'"$p $(tb_starttime "$p") $(cat "/proc/$p/comm" 2>/dev/null)"
  done
done
trap - EXIT
cleanup
left=""
while read -r pid st name; do
  [[ -n $pid && $(tb_starttime "$pid" 2>/dev/null) == "$st" ]] && left+="$name($pid) "
done <<<"$started"
check "no process left" "" "$left"
check "no namespace left" "" "$(ip netns list | awk '{print $1}' | grep "^$TB_PREFIX-" || true)"
check "state directory removed" "no" "$([[ -e $TB_ROOT ]] && echo yes || echo no)"
if ((failures > 0)); then
  echo "testbed_e2e: $failures failure(s)"
  exit 1
fi
echo "testbed_e2e: all checks passed"
