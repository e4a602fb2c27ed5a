# shellcheck shell=bash
# Settings shared by mgmt.sh and host.sh. Sourced. Every value can be set in
# the environment; the namespace testbed (up.sh) and the Vagrantfile set them.
#
#   TB_SITE     directory shared by all nodes: CA, certificates, policies, VM
#               configurations, host facts (TPM EK digests and PCR values).
#               Namespace testbed: $TB_ROOT/site; Vagrant: /vagrant/.site.
#   TB_STATE    this node's private state directory (daemon state, logs,
#               sockets, the pid list).
#   TB_NETNS    network namespace the node's daemons run in; empty on a real
#               machine.
#   TB_BUILD    a build directory whose binaries are used
#               (BUILD/tvd-master/tvd-master, ...); empty: from PATH.
#   TB_MGMT_ADDR  the management node's underlay address (tvd-master on
#               port 7400, rm-server on 5560).
#   TB_CA_NAME  the VDC CA's name (certificate O=).
#   TB_MASTERS  the master replicas hosts and tvdctl reach, in the order to
#               try them: ADDR:PORT,ADDR:PORT,... (at most 16). Default: the
#               one master, $TB_MGMT_ADDR:7400.

: "${TB_MGMT_ADDR:=198.18.0.10}"
: "${TB_CA_NAME:=testbed-vdc}"
: "${TB_NETNS:=}"
: "${TB_BUILD:=}"
# shellcheck disable=SC2034  # used by the scripts that source this file
TB_MASTER_PORT=7400
: "${TB_MASTERS:=$TB_MGMT_ADDR:$TB_MASTER_PORT}"
# shellcheck disable=SC2034
TB_RM_AGENT_PORT=5560
# shellcheck disable=SC2034
TB_RELAY_PORT=16514
# shellcheck disable=SC2034
TB_SWTPM_PORT=2321

# tb_bin NAME: path of a project binary.
tb_bin() {
  local rel
  case $1 in
    tvd-master) rel=tvd-master/tvd-master ;;
    tvd-proxy) rel=tvd-proxy/tvd-proxy ;;
    proxy-factory) rel=proxy-factory/proxy-factory ;;
    libvirt-filter) rel=libvirt-filter/libvirt-filter ;;
    rm-agent) rel=rm-agent/rm-agent ;;
    rm-server) rel=rm-agent/rm-server ;;
    tvdctl) rel=tvdctl/tvdctl ;;
    tvd-overview) rel=overview/tvd-overview ;;
    tvd-synthetic-boot) rel=tests/fixture/synthetic_boot/tvd-synthetic-boot ;;
    *) tb_die "unknown binary $1" ;;
  esac
  if [[ -n $TB_BUILD ]]; then
    if [[ -x $TB_BUILD/$rel ]]; then
      echo "$TB_BUILD/$rel"
    else
      # Binaries may sit elsewhere in the build tree.
      local found
      found=$(find "$TB_BUILD" -maxdepth 3 -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1)
      [[ -n $found ]] || return 1
      echo "$found"
    fi
  else
    command -v "$1"
  fi
}

# The site layout.
tb_pki() { echo "$TB_SITE/pki"; }
