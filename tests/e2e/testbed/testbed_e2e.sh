#!/usr/bin/env bash
# End to end on the namespace testbed with this build's binaries: up (mgmt +
# 2 hosts), both hosts join blue and red, three real guests (blue on h1 and
# h2, red on h1), the isolation matrix measured from inside the guests, each
# tenant's view through both relays and the admin's; then h2 leaves red and
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
blue-h1 blue h1 10.1.0.11/8 52:54:00:01:00:11
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
# shellcheck source=testbed/scenario.sh
source "$root/testbed/scenario.sh"
# shellcheck source=testbed/provision/lib.sh
source "$root/testbed/provision/lib.sh"
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
for f in "$TB_ROOT"/h*/libvirt/run/qemu/*.pid; do
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
