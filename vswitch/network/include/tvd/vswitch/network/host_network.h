// The TVD network model of one host: which TVD networks exist on the host's
// integration bridge, which VM ports belong to which of them, and the
// tunnels to the other hosts of each TVD.
//
// Isolation, in layers:
//   - each (TVD, network) gets a host-local VLAN id; VM ports and the
//     network's VXLAN device are access ports with that tag, so the bridge
//     never forwards between networks;
//   - the bridge runs fail_mode=secure with a table-0 priority-0 drop flow:
//     a port nobody bound (no flows of its own) gets nothing through;
//   - a VM port's flows allow only its own MAC (and, when configured, its
//     IPv4 source and ARP sender address); everything else it sends drops;
//   - between hosts, each TVD network has a kernel VXLAN device with the
//     network's global VNI on the TVD's own UDP port (VxlanPortForTvd), and
//     the TunnelBackend protects that port's traffic with the TVD's own
//     IPsec SAs.
//
// Everything is recorded in OVSDB external_ids, so a restarted controller
// recovers VLAN allocations and ownership from the database:
//   Bridge.external_ids  "tvd-vlan:<tvd>:<network>" = "<vlan>:<vni>"
//   Port.external_ids    tvd, tvd-id, network, tvd-kind (vm|vxlan), and for
//                        VM ports vm, mac, ip
// Flow cookies: 0x7476 << 48 | tvd_id << 34 | hash(port name) (34 bits).
//
// Each operation changes OVSDB in exactly one transaction, so a failed
// operation leaves the database as it was; kernel devices and flows created
// before a failed transaction are removed again. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"
#include "tvd/vswitch/network/link_manager.h"
#include "tvd/vswitch/network/vswitch_database.h"
#include "tvd/vswitch/openflow/openflow_switch.h"
#include "tvd/vswitch/tunnel_backend.h"

namespace tvd::vswitch {

struct TvdNetworkSpec {
  std::string name;       // e.g. "data"
  std::uint32_t vni = 0;  // global VXLAN id, 1..16777215
};

struct TvdPeerSpec {
  std::string host;                  // peer identity, e.g. "host2"
  std::string address;               // peer underlay address
  const SecureBytes* psk = nullptr;  // owned by the caller; never stored
};

// One TVD's presence on this host.
struct TvdSpec {
  std::string tvd;           // name, [A-Za-z0-9_.-]+
  std::uint32_t tvd_id = 0;  // 1..kMaxTvdId
  std::vector<TvdNetworkSpec> networks;
  std::vector<TvdPeerSpec> peers;
  std::vector<std::string> ike_proposals;
  std::vector<std::string> esp_proposals;
};

struct VmPortSpec {
  std::string port;  // interface name on the host (veth / tap)
  std::string tvd;
  std::string network;
  std::string vm;    // VM identity (name or UUID)
  std::string mac;   // "aa:bb:cc:dd:ee:ff", required
  std::string ipv4;  // optional; when set, also the only IPv4/ARP source
};

// A VM port as OVSDB records it (Port.external_ids); vm and network are
// empty when the row lacks them.
struct VmPortInfo {
  std::string port;
  std::string vm;
  std::string network;
  friend bool operator==(const VmPortInfo&, const VmPortInfo&) = default;
};

struct DesiredHostState {
  std::vector<TvdSpec> tvds;
  std::vector<VmPortSpec> ports;
};

// Says whether `vm` may be a gateway between TVDs `a` and `b` (both
// policies must allow it). Supplied by the caller from the TVD policies.
using GatewayCheck = std::function<bool(
    const std::string& vm, const std::string& tvd_a, const std::string& tvd_b)>;

inline constexpr std::uint64_t kCookieTag = 0x7476ull << 48;
inline constexpr std::uint64_t kCookieTagMask = 0xffffull << 48;
inline constexpr std::uint64_t kCookieTvdMask = kCookieTagMask | 0x3fffull
                                                                     << 34;
// Cookie of every flow belonging to `port` of TVD `tvd_id` (0: the bridge's
// own default flows).
std::uint64_t PortCookie(std::uint32_t tvd_id, const std::string& port);
// Name of the VXLAN device of a network: "tvx<vni>".
std::string VxlanDeviceName(std::uint32_t vni);
// The anti-spoofing flows of a VM port at OpenFlow port `ofport`.
// InvalidArgument for a malformed MAC or IPv4.
StatusOr<std::vector<openflow::Flow>> VmPortFlows(const VmPortSpec& port,
                                                  std::uint32_t tvd_id,
                                                  std::uint32_t ofport);

class HostNetwork {
 public:
  struct Config {
    std::string bridge = "br-tvd";
    std::string datapath_type = "netdev";  // "system" with the kernel module
    std::string local_host;                // this host's identity
    std::string local_address;             // this host's underlay address
    std::chrono::milliseconds apply_timeout{10000};
    // TUN device of charon's userspace ESP (kernel-libipsec). When set, each
    // TVD's VXLAN port is guarded (LinkManager::EnsureVxlanGuard) so its
    // traffic never crosses the underlay unencrypted. Empty only on hosts
    // with kernel ESP, where charon's IPsec policies enforce the same.
    std::string ipsec_tun_device = "ipsec0";
  };

  HostNetwork(Config config, VswitchDatabase& db, OpenFlowSwitch& flows,
              LinkManager& links, TunnelBackend& tunnels,
              GatewayCheck gateway_check);

  // Creates the integration bridge (fail_mode=secure, datapath type) if it
  // is missing and installs the default-deny flow.
  Status EnsureBridge();

  // Makes this host a member of the TVD: a VLAN per network (allocated or
  // recovered), its VXLAN device and bridge port, flooding entries and an
  // IPsec tunnel per peer. Idempotent; calling it again with other peers
  // adds/removes tunnels and flooding entries (a network dropped from the
  // spec is removed by Reconcile, not here). Every peer's tunnel is
  // attempted; the first tunnel error is returned after the local set-up is
  // complete, and calling again retries. Errors:
  //   InvalidArgument     a malformed spec (names the field)
  //   FailedPrecondition  no bridge (EnsureBridge first), or no free VLAN
  //   whatever OVSDB / the link manager / the tunnel backend returned
  Status JoinTvd(const TvdSpec& spec);

  // Plugs a VM port into its TVD network with anti-spoofing flows. When the
  // VM already has a port on another TVD, the gateway check must allow it
  // (PermissionDenied otherwise). FailedPrecondition when the TVD network
  // is not on this host or the port already belongs to another network.
  Status PlugVmPort(const VmPortSpec& port);

  // Removes a VM port and its flows. NotFound when it is not a TVD VM port.
  Status UnplugVmPort(const std::string& port);

  // Every VM port OVSDB records for `tvd` (external_ids tvd-kind=vm and
  // tvd=<tvd>), by port name, whoever plugged it. Lets a restarted
  // controller find ports it has no record of. InvalidArgument for a
  // malformed TVD name; OVSDB's error when it cannot be read.
  StatusOr<std::vector<VmPortInfo>> ListVmPorts(const std::string& tvd);

  // Removes exactly this TVD from the host: its VM ports, VXLAN ports and
  // devices, VLAN allocations, flows and tunnels. Other TVDs are untouched.
  // NotFound when the TVD has nothing on this host.
  Status LeaveTvd(const std::string& tvd);

  // Makes the host match `desired` (after a restart of ovs-vswitchd, charon
  // or the controller): restores what is missing, removes stale ports,
  // VLAN allocations, flows, VXLAN devices and tunnels. The first error
  // stops it; calling it again continues from where the host then is.
  Status Reconcile(const DesiredHostState& desired);

  // Host-local VLAN of a TVD network, as recorded in OVSDB.
  StatusOr<std::uint16_t> VlanOf(const std::string& tvd,
                                 const std::string& network);

 private:
  // The bridge as OVSDB has it; bridge.name is empty when there is none.
  using Snapshot = BridgeState;
  struct Allocation {
    std::uint16_t vlan = 0;
    std::uint32_t vni = 0;
  };

  StatusOr<Snapshot> Read();
  // Allocations of all TVDs, keyed "<tvd>:<network>".
  static std::map<std::string, Allocation> Allocations(const Snapshot& snap);
  StatusOr<std::uint32_t> OfPort(const std::string& iface);
  std::vector<std::string> PeerTunnelNames(const TvdSpec& spec) const;
  vswitch::TunnelSpec TunnelFor(const TvdSpec& spec,
                                const TvdPeerSpec& peer) const;

  Config config_;
  VswitchDatabase& db_;
  OpenFlowSwitch& flows_;
  LinkManager& links_;
  TunnelBackend& tunnels_;
  GatewayCheck gateway_check_;
  // What JoinTvd was last told per TVD (without secrets), for tunnel names.
  std::map<std::string, TvdSpec> joined_;
};

}  // namespace tvd::vswitch
