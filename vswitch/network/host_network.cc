#include "tvd/vswitch/network/host_network.h"

#include <algorithm>

#include "tvd/log.h"

namespace tvd::vswitch {
namespace {

using openflow::Flow;

constexpr char kVlanKeyPrefix[] = "tvd-vlan:";
constexpr std::uint16_t kPriorityAllow = 100;
constexpr std::uint32_t kMaxVni = 16777215;

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool ValidIfname(const std::string& s) {
  return ValidName(s) && s.size() <= 15;
}

std::string VlanKey(const std::string& tvd, const std::string& network) {
  return kVlanKeyPrefix + tvd + ":" + network;
}

std::uint64_t Fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::uint64_t PortCookie(std::uint32_t tvd_id, const std::string& port) {
  std::uint64_t port_bits = port.empty() ? 0 : (Fnv1a(port) & 0x3ffffffffull);
  return kCookieTag | (static_cast<std::uint64_t>(tvd_id & 0x3fff) << 34) |
         port_bits;
}

std::string VxlanDeviceName(std::uint32_t vni) {
  return "tvx" + std::to_string(vni);
}

StatusOr<std::vector<Flow>> VmPortFlows(const VmPortSpec& port,
                                        std::uint32_t tvd_id,
                                        std::uint32_t ofport) {
  TVD_ASSIGN_OR_RETURN(openflow::MacAddress mac, openflow::ParseMac(port.mac));
  Flow base;
  base.cookie = PortCookie(tvd_id, port.port);
  base.priority = kPriorityAllow;
  base.action = Flow::Action::kNormal;
  base.match.in_port = ofport;
  base.match.eth_src = mac;
  if (port.ipv4.empty()) return std::vector<Flow>{base};
  TVD_ASSIGN_OR_RETURN(std::uint32_t ip, openflow::ParseIpv4(port.ipv4));
  Flow arp = base;
  arp.match.eth_type = openflow::kEthTypeArp;
  arp.match.arp_spa = ip;
  Flow ipv4 = base;
  ipv4.match.eth_type = openflow::kEthTypeIpv4;
  ipv4.match.ipv4_src = ip;
  return std::vector<Flow>{arp, ipv4};
}

HostNetwork::HostNetwork(Config config, VswitchDatabase& db,
                         OpenFlowSwitch& flows, LinkManager& links,
                         TunnelBackend& tunnels, GatewayCheck gateway_check)
    : config_(std::move(config)),
      db_(db),
      flows_(flows),
      links_(links),
      tunnels_(tunnels),
      gateway_check_(std::move(gateway_check)) {}

StatusOr<HostNetwork::Snapshot> HostNetwork::Read() {
  StatusOr<BridgeState> state = db_.ReadBridge(config_.bridge);
  // NotFound is the database's "no bridge": callers check bridge.name.
  if (!state.ok() && state.status().code() == ErrorCode::kNotFound) {
    return Snapshot{};
  }
  return state;
}

std::map<std::string, HostNetwork::Allocation> HostNetwork::Allocations(
    const Snapshot& snap) {
  std::map<std::string, Allocation> out;
  for (const auto& [key, value] : snap.bridge.external_ids) {
    if (key.rfind(kVlanKeyPrefix, 0) != 0) continue;
    auto colon = value.find(':');
    if (colon == std::string::npos) continue;
    try {
      Allocation a;
      int vlan = std::stoi(value.substr(0, colon));
      long vni = std::stol(value.substr(colon + 1));
      if (vlan < 1 || vlan > 4094 || vni < 1 || vni > kMaxVni) continue;
      a.vlan = static_cast<std::uint16_t>(vlan);
      a.vni = static_cast<std::uint32_t>(vni);
      out[key.substr(sizeof(kVlanKeyPrefix) - 1)] = a;
    } catch (const std::exception&) {
      // A value we did not write: ignore it rather than trust it.
    }
  }
  return out;
}

StatusOr<std::uint32_t> HostNetwork::OfPort(const std::string& iface) {
  StatusOr<InterfaceRow> row = db_.GetInterface(iface);
  if (!row.ok() && row.status().code() != ErrorCode::kNotFound) {
    return row.status();
  }
  if (!row.ok() || !row->ofport || *row->ofport <= 0 ||
      *row->ofport >= 0xff00) {
    return FailedPrecondition(
        "Open vSwitch did not attach interface " + iface +
        (row.ok() && !row->error.empty() ? ": " + row->error : ""));
  }
  return static_cast<std::uint32_t>(*row->ofport);
}

Status HostNetwork::EnsureBridge() {
  // An existing bridge gets its mode back, should anybody have relaxed it.
  BridgeRow bridge;
  bridge.name = config_.bridge;
  bridge.datapath_type = config_.datapath_type;
  bridge.fail_mode = "secure";
  bridge.protocols = {"OpenFlow10", "OpenFlow13"};
  bridge.external_ids = {{"tvd-bridge", "true"}};
  TVD_RETURN_IF_ERROR(db_.EnsureBridge(bridge, config_.apply_timeout).status());
  Flow drop;
  drop.cookie = PortCookie(0, "");
  drop.priority = 0;
  drop.action = Flow::Action::kDrop;
  return flows_.AddFlows({drop});
}

std::vector<std::string> HostNetwork::PeerTunnelNames(
    const TvdSpec& spec) const {
  std::vector<std::string> names;
  for (const TvdPeerSpec& p : spec.peers) {
    names.push_back(TunnelName(TunnelFor(spec, p)));
  }
  return names;
}

TunnelSpec HostNetwork::TunnelFor(const TvdSpec& spec,
                                  const TvdPeerSpec& peer) const {
  TunnelSpec t;
  t.tvd = spec.tvd;
  t.tvd_id = spec.tvd_id;
  t.local_host = config_.local_host;
  t.peer_host = peer.host;
  t.local_address = config_.local_address;
  t.peer_address = peer.address;
  t.ike_proposals = spec.ike_proposals;
  t.esp_proposals = spec.esp_proposals;
  t.psk = peer.psk;
  t.initiator = config_.local_host < peer.host;
  return t;
}

Status HostNetwork::JoinTvd(const TvdSpec& spec) {
  if (!ValidName(spec.tvd)) {
    return InvalidArgument("TVD name '" + spec.tvd +
                           "' must be 1-64 of [A-Za-z0-9_.-]");
  }
  if (spec.tvd_id == 0 || spec.tvd_id > kMaxTvdId) {
    return InvalidArgument("TVD " + spec.tvd + ": id " +
                           std::to_string(spec.tvd_id) + " is not in 1.." +
                           std::to_string(kMaxTvdId));
  }
  if (spec.networks.empty()) {
    return InvalidArgument("TVD " + spec.tvd + " has no networks");
  }
  std::set<std::string> seen;
  for (const TvdNetworkSpec& n : spec.networks) {
    if (!ValidName(n.name) || !seen.insert(n.name).second) {
      return InvalidArgument("TVD " + spec.tvd + ": network name '" + n.name +
                             "' is invalid or repeated");
    }
    if (n.vni == 0 || n.vni > kMaxVni) {
      return InvalidArgument("TVD " + spec.tvd + " network " + n.name +
                             ": VNI " + std::to_string(n.vni) +
                             " is not in 1..16777215");
    }
  }
  for (const TvdPeerSpec& p : spec.peers) {
    if (!ValidName(p.host) || p.address.empty()) {
      return InvalidArgument("TVD " + spec.tvd + ": peer '" + p.host +
                             "' needs a valid name and an address");
    }
  }

  TVD_ASSIGN_OR_RETURN(Snapshot snap, Read());
  if (snap.bridge.name.empty()) {
    return FailedPrecondition("bridge " + config_.bridge +
                              " does not exist (EnsureBridge first)");
  }
  std::map<std::string, Allocation> allocs = Allocations(snap);
  std::set<std::uint16_t> used;
  for (const auto& [key, a] : allocs) used.insert(a.vlan);
  for (const auto& [key, a] : allocs) {
    // A VNI may belong to one TVD network only on this host.
    for (const TvdNetworkSpec& n : spec.networks) {
      if (a.vni == n.vni && key != spec.tvd + ":" + n.name) {
        return FailedPrecondition("VNI " + std::to_string(n.vni) +
                                  " is already used by " + key);
      }
    }
  }

  // One transaction for all of it; a key whose VNI changed is replaced.
  BridgeChange change;
  std::map<std::string, std::uint16_t> vlans;  // network -> vlan
  for (const TvdNetworkSpec& n : spec.networks) {
    std::string key = spec.tvd + ":" + n.name;
    auto it = allocs.find(key);
    std::uint16_t vlan = 0;
    if (it != allocs.end()) {
      vlan = it->second.vlan;
    } else {
      for (std::uint16_t v = 1; v <= 4094; ++v) {
        if (used.count(v) == 0) {
          vlan = v;
          break;
        }
      }
      if (vlan == 0) {
        return FailedPrecondition("no free VLAN id on bridge " +
                                  config_.bridge);
      }
      used.insert(vlan);
    }
    if (it == allocs.end() || it->second.vni != n.vni) {
      change.set_bridge_ids[VlanKey(spec.tvd, n.name)] =
          std::to_string(vlan) + ":" + std::to_string(n.vni);
    }
    vlans[n.name] = vlan;
  }
  // The guard goes up before any VXLAN device exists, so that not one of
  // this TVD's packets can leave unencrypted while its tunnels come up.
  if (!config_.ipsec_tun_device.empty()) {
    TVD_RETURN_IF_ERROR(
        links_
            .EnsureVxlanGuard(VxlanPortForTvd(spec.tvd_id),
                              config_.ipsec_tun_device)
            .WithContext("guarding TVD " + spec.tvd + "'s VXLAN port"));
  }

  // Kernel VXLAN devices first: OVS can only attach a device that exists.
  std::vector<std::string> created;
  auto undo_links = [&]() {
    for (const auto& name : created) (void)links_.DeleteLink(name);
  };
  std::vector<std::string> peer_addrs;
  for (const auto& p : spec.peers) peer_addrs.push_back(p.address);
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> existing_links,
                       links_.ListLinks("tvx"));
  std::vector<std::string> vxlan_ports;
  for (const TvdNetworkSpec& n : spec.networks) {
    std::string dev = VxlanDeviceName(n.vni);
    vxlan_ports.push_back(dev);
    bool existed = std::find(existing_links.begin(), existing_links.end(),
                             dev) != existing_links.end();
    Status s = links_.EnsureVxlan(
        {dev, n.vni, config_.local_address, VxlanPortForTvd(spec.tvd_id)});
    if (s.ok() && !existed) created.push_back(dev);
    if (s.ok()) s = links_.SetVxlanPeers(dev, peer_addrs);
    if (!s.ok()) {
      undo_links();
      return s.WithContext("TVD " + spec.tvd + " network " + n.name);
    }
    auto port = snap.ports.find(dev);
    std::map<std::string, std::string> ids = {
        {"tvd", spec.tvd},
        {"tvd-id", std::to_string(spec.tvd_id)},
        {"network", n.name},
        {"tvd-kind", "vxlan"}};
    if (port == snap.ports.end()) {
      change.add_ports.push_back({dev, vlans[n.name], ids, ""});
    } else if (port->second.external_ids != ids ||
               port->second.tag != vlans[n.name]) {
      change.update_ports.push_back({dev, vlans[n.name], ids});
    }
  }
  if (!change.empty()) {
    Status s = db_.Apply(config_.bridge, change, config_.apply_timeout);
    if (!s.ok()) {
      undo_links();
      return s.WithContext("joining TVD " + spec.tvd);
    }
  }

  std::vector<Flow> flows;
  for (const std::string& dev : vxlan_ports) {
    TVD_ASSIGN_OR_RETURN(std::uint32_t ofport, OfPort(dev));
    Flow f;
    f.cookie = PortCookie(spec.tvd_id, dev);
    f.priority = kPriorityAllow;
    f.action = Flow::Action::kNormal;
    f.match.in_port = ofport;
    flows.push_back(f);
  }
  TVD_RETURN_IF_ERROR(flows_.AddFlows(flows));

  // Tunnels: stale peers of an earlier JoinTvd first, then every peer.
  auto previous = joined_.find(spec.tvd);
  std::vector<std::string> wanted = PeerTunnelNames(spec);
  if (previous != joined_.end()) {
    for (const std::string& name : PeerTunnelNames(previous->second)) {
      if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) {
        Status s = tunnels_.RemoveTunnel(name);
        if (!s.ok() && s.code() != ErrorCode::kNotFound) return s;
      }
    }
  }
  TvdSpec remembered = spec;
  for (TvdPeerSpec& p : remembered.peers) p.psk = nullptr;
  joined_[spec.tvd] = remembered;
  // Every peer gets its attempt even when an earlier one fails (a peer that
  // is not configured yet must not hold back the others); the first failure
  // is returned, and calling JoinTvd again retries.
  Status first_error;
  for (const TvdPeerSpec& p : spec.peers) {
    Status s = tunnels_.EnsureTunnel(TunnelFor(spec, p));
    if (!s.ok() && first_error.ok()) {
      first_error = s.WithContext("TVD " + spec.tvd + " tunnel to " + p.host);
    }
  }
  TVD_RETURN_IF_ERROR(first_error);
  log::Info("TVD ", spec.tvd, " on bridge ", config_.bridge, ": ",
            spec.networks.size(), " network(s), ", spec.peers.size(),
            " peer(s)");
  return Status::Ok();
}

Status HostNetwork::PlugVmPort(const VmPortSpec& port) {
  if (!ValidIfname(port.port)) {
    return InvalidArgument("port name '" + port.port +
                           "' must be 1-15 of [A-Za-z0-9_.-]");
  }
  if (!ValidName(port.vm)) {
    return InvalidArgument("port " + port.port + ": VM name '" + port.vm +
                           "' must be 1-64 of [A-Za-z0-9_.-]");
  }
  TVD_RETURN_IF_ERROR(
      openflow::ParseMac(port.mac).status().WithContext("port " + port.port));
  if (!port.ipv4.empty()) {
    TVD_RETURN_IF_ERROR(openflow::ParseIpv4(port.ipv4).status().WithContext(
        "port " + port.port));
  }
  TVD_ASSIGN_OR_RETURN(Snapshot snap, Read());
  if (snap.bridge.name.empty()) {
    return FailedPrecondition("bridge " + config_.bridge + " does not exist");
  }
  std::map<std::string, Allocation> allocs = Allocations(snap);
  auto alloc = allocs.find(port.tvd + ":" + port.network);
  if (alloc == allocs.end()) {
    return FailedPrecondition("TVD " + port.tvd + " has no network '" +
                              port.network + "' on this host");
  }
  std::uint32_t tvd_id = 0;
  for (const auto& [name, row] : snap.ports) {
    auto kind = row.external_ids.find("tvd-kind");
    if (kind == row.external_ids.end()) continue;
    if (row.external_ids.count("tvd") &&
        row.external_ids.at("tvd") == port.tvd &&
        row.external_ids.count("tvd-id")) {
      tvd_id = static_cast<std::uint32_t>(
          std::strtoul(row.external_ids.at("tvd-id").c_str(), nullptr, 10));
    }
    if (kind->second != "vm" || name == port.port) continue;
    // Another port of the same VM on another TVD makes it a gateway.
    if (row.external_ids.count("vm") && row.external_ids.at("vm") == port.vm &&
        row.external_ids.count("tvd") &&
        row.external_ids.at("tvd") != port.tvd) {
      const std::string& other = row.external_ids.at("tvd");
      if (!gateway_check_ || !gateway_check_(port.vm, other, port.tvd)) {
        return PermissionDenied(
            "VM " + port.vm + " already has a port on TVD " + other +
            "; a port on TVD " + port.tvd +
            " needs both policies to allow it as a gateway");
      }
    }
  }
  if (tvd_id == 0) {
    auto j = joined_.find(port.tvd);
    if (j != joined_.end()) tvd_id = j->second.tvd_id;
  }
  if (tvd_id == 0) {
    return FailedPrecondition(
        "TVD " + port.tvd + " has no VXLAN port on this host (JoinTvd first)");
  }
  std::map<std::string, std::string> ids = {
      {"tvd", port.tvd},         {"tvd-id", std::to_string(tvd_id)},
      {"network", port.network}, {"tvd-kind", "vm"},
      {"vm", port.vm},           {"mac", port.mac}};
  if (!port.ipv4.empty()) ids["ip"] = port.ipv4;

  auto existing = snap.ports.find(port.port);
  bool inserted = false;
  if (existing == snap.ports.end()) {
    BridgeChange change;
    change.add_ports.push_back({port.port, alloc->second.vlan, ids, ""});
    TVD_RETURN_IF_ERROR(db_.Apply(config_.bridge, change, config_.apply_timeout)
                            .WithContext("plugging port " + port.port));
    inserted = true;
  } else {
    const PortRow& row = existing->second;
    if (!row.external_ids.count("tvd-kind")) {
      return FailedPrecondition("port " + port.port +
                                " exists on the bridge but is not a TVD port");
    }
    if (row.external_ids.at("tvd-kind") != "vm" ||
        row.external_ids.count("tvd") == 0 ||
        row.external_ids.at("tvd") != port.tvd ||
        row.external_ids.count("network") == 0 ||
        row.external_ids.at("network") != port.network) {
      return FailedPrecondition("port " + port.port +
                                " already belongs to another TVD network");
    }
    if (row.external_ids != ids || row.tag != alloc->second.vlan) {
      BridgeChange change;
      change.update_ports.push_back({port.port, alloc->second.vlan, ids});
      TVD_RETURN_IF_ERROR(
          db_.Apply(config_.bridge, change, config_.apply_timeout));
    }
  }
  // A port without its flows gets nothing through (default deny), so a
  // failure here is safe; still, roll back a port we just added.
  auto rollback = [&](Status s) {
    if (inserted) (void)UnplugVmPort(port.port);
    return s;
  };
  StatusOr<std::uint32_t> ofport = OfPort(port.port);
  if (!ofport.ok()) return rollback(ofport.status());
  StatusOr<std::vector<Flow>> flows = VmPortFlows(port, tvd_id, *ofport);
  if (!flows.ok()) return rollback(flows.status());
  // Replace: the port's ofport may have changed since its flows were added.
  Status s = flows_.DeleteFlows(PortCookie(tvd_id, port.port), ~0ull);
  if (s.ok()) s = flows_.AddFlows(*flows);
  if (!s.ok()) return rollback(s);
  return Status::Ok();
}

Status HostNetwork::UnplugVmPort(const std::string& port) {
  TVD_ASSIGN_OR_RETURN(Snapshot snap, Read());
  auto it = snap.ports.find(port);
  if (it == snap.ports.end() || !it->second.external_ids.count("tvd-kind") ||
      it->second.external_ids.at("tvd-kind") != "vm") {
    return NotFound("no TVD VM port " + port + " on bridge " + config_.bridge);
  }
  std::uint32_t tvd_id = static_cast<std::uint32_t>(
      std::strtoul(it->second.external_ids.count("tvd-id")
                       ? it->second.external_ids.at("tvd-id").c_str()
                       : "0",
                   nullptr, 10));
  BridgeChange change;
  change.remove_ports.push_back(port);
  TVD_RETURN_IF_ERROR(db_.Apply(config_.bridge, change, config_.apply_timeout));
  return flows_.DeleteFlows(PortCookie(tvd_id, port), ~0ull);
}

StatusOr<std::vector<VmPortInfo>> HostNetwork::ListVmPorts(
    const std::string& tvd) {
  if (!ValidName(tvd)) {
    return InvalidArgument("TVD name '" + tvd +
                           "' must be 1-64 of [A-Za-z0-9_.-]");
  }
  StatusOr<std::vector<PortRow>> rows =
      db_.FindPorts(config_.bridge, {{"tvd-kind", "vm"}, {"tvd", tvd}});
  std::vector<VmPortInfo> out;
  if (!rows.ok() && rows.status().code() == ErrorCode::kNotFound) {
    return out;  // no bridge, so no ports
  }
  TVD_RETURN_IF_ERROR(rows.status());
  for (const PortRow& row : *rows) {
    auto vm = row.external_ids.find("vm");
    auto network = row.external_ids.find("network");
    out.push_back({row.name, vm == row.external_ids.end() ? "" : vm->second,
                   network == row.external_ids.end() ? "" : network->second});
  }
  return out;
}

Status HostNetwork::LeaveTvd(const std::string& tvd) {
  TVD_ASSIGN_OR_RETURN(Snapshot snap, Read());
  BridgeChange change;
  std::vector<std::string> vxlan_devs;
  std::uint32_t tvd_id = 0;
  for (const auto& [name, row] : snap.ports) {
    if (!row.external_ids.count("tvd-kind") || !row.external_ids.count("tvd") ||
        row.external_ids.at("tvd") != tvd) {
      continue;
    }
    change.remove_ports.push_back(name);
    if (row.external_ids.at("tvd-kind") == "vxlan") vxlan_devs.push_back(name);
    if (row.external_ids.count("tvd-id")) {
      tvd_id = static_cast<std::uint32_t>(
          std::strtoul(row.external_ids.at("tvd-id").c_str(), nullptr, 10));
    }
  }
  for (const auto& [key, value] : snap.bridge.external_ids) {
    if (key.rfind(VlanKey(tvd, ""), 0) == 0) {
      change.remove_bridge_ids.push_back(key);
    }
  }
  auto joined = joined_.find(tvd);
  if (change.empty() && joined == joined_.end()) {
    return NotFound("TVD " + tvd + " has nothing on this host");
  }
  if (tvd_id == 0 && joined != joined_.end()) tvd_id = joined->second.tvd_id;
  if (!change.empty()) {
    TVD_RETURN_IF_ERROR(db_.Apply(config_.bridge, change, config_.apply_timeout)
                            .WithContext("removing TVD " + tvd));
  }
  if (tvd_id != 0) {
    TVD_RETURN_IF_ERROR(flows_.DeleteFlows(
        PortCookie(tvd_id, "") & kCookieTvdMask, kCookieTvdMask));
  }
  for (const std::string& dev : vxlan_devs) {
    Status s = links_.DeleteLink(dev);
    if (!s.ok() && s.code() != ErrorCode::kNotFound) return s;
  }
  // Tunnels: by the remembered peers, and any other "tvd-<tvd>-" leftover.
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> tunnels,
                       tunnels_.ListTunnels());
  std::set<std::string> remove;
  if (joined != joined_.end()) {
    for (const auto& n : PeerTunnelNames(joined->second)) remove.insert(n);
  }
  std::string prefix = "tvd-" + tvd + "-";
  for (const auto& n : tunnels) {
    if (n.rfind(prefix, 0) == 0) remove.insert(n);
  }
  for (const auto& n : remove) {
    if (std::find(tunnels.begin(), tunnels.end(), n) == tunnels.end()) continue;
    TVD_RETURN_IF_ERROR(tunnels_.RemoveTunnel(n));
  }
  // Last: the guard outlives the devices and tunnels it protects.
  if (tvd_id != 0) {
    TVD_RETURN_IF_ERROR(links_.RemoveVxlanGuard(VxlanPortForTvd(tvd_id)));
  }
  joined_.erase(tvd);
  log::Info("TVD ", tvd, " removed from bridge ", config_.bridge);
  return Status::Ok();
}

Status HostNetwork::Reconcile(const DesiredHostState& desired) {
  TVD_RETURN_IF_ERROR(EnsureBridge());
  std::set<std::string> tvds;
  std::set<std::string> wanted_ports;
  std::set<std::string> wanted_links;
  std::set<std::string> wanted_tunnels;
  std::set<std::uint64_t> wanted_cookies = {PortCookie(0, "")};
  std::map<std::string, std::uint32_t> tvd_ids;
  for (const TvdSpec& t : desired.tvds) {
    tvds.insert(t.tvd);
    tvd_ids[t.tvd] = t.tvd_id;
    for (const auto& n : t.networks) {
      wanted_links.insert(VxlanDeviceName(n.vni));
      wanted_ports.insert(VxlanDeviceName(n.vni));
      wanted_cookies.insert(PortCookie(t.tvd_id, VxlanDeviceName(n.vni)));
    }
    for (const auto& n : PeerTunnelNames(t)) wanted_tunnels.insert(n);
  }
  for (const VmPortSpec& p : desired.ports) {
    wanted_ports.insert(p.port);
    if (tvd_ids.count(p.tvd)) {
      wanted_cookies.insert(PortCookie(tvd_ids[p.tvd], p.port));
    }
  }

  // Stale TVDs as a whole, then stale ports of wanted TVDs.
  TVD_ASSIGN_OR_RETURN(Snapshot snap, Read());
  std::set<std::string> stale_tvds;
  for (const auto& [name, row] : snap.ports) {
    if (row.external_ids.count("tvd-kind") && row.external_ids.count("tvd") &&
        tvds.count(row.external_ids.at("tvd")) == 0) {
      stale_tvds.insert(row.external_ids.at("tvd"));
    }
  }
  for (const auto& [key, a] : Allocations(snap)) {
    std::string tvd = key.substr(0, key.find(':'));
    if (tvds.count(tvd) == 0) stale_tvds.insert(tvd);
  }
  for (const auto& [tvd, spec] : joined_) {
    if (tvds.count(tvd) == 0) stale_tvds.insert(tvd);
  }
  for (const std::string& tvd : stale_tvds) {
    Status s = LeaveTvd(tvd);
    if (!s.ok() && s.code() != ErrorCode::kNotFound) return s;
  }
  TVD_ASSIGN_OR_RETURN(snap, Read());
  BridgeChange stale;
  for (const auto& [name, row] : snap.ports) {
    if (row.external_ids.count("tvd-kind") && wanted_ports.count(name) == 0) {
      stale.remove_ports.push_back(name);
    }
  }
  if (!stale.empty()) {
    TVD_RETURN_IF_ERROR(
        db_.Apply(config_.bridge, stale, config_.apply_timeout));
  }

  for (const TvdSpec& t : desired.tvds) TVD_RETURN_IF_ERROR(JoinTvd(t));
  for (const VmPortSpec& p : desired.ports) TVD_RETURN_IF_ERROR(PlugVmPort(p));

  TVD_ASSIGN_OR_RETURN(std::vector<std::uint64_t> cookies,
                       flows_.ListCookies(kCookieTag, kCookieTagMask));
  for (std::uint64_t c : cookies) {
    if (wanted_cookies.count(c) == 0) {
      TVD_RETURN_IF_ERROR(flows_.DeleteFlows(c, ~0ull));
    }
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> links, links_.ListLinks("tvx"));
  for (const auto& l : links) {
    if (wanted_links.count(l) == 0) {
      Status s = links_.DeleteLink(l);
      if (!s.ok() && s.code() != ErrorCode::kNotFound) return s;
    }
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> tunnels,
                       tunnels_.ListTunnels());
  for (const auto& n : tunnels) {
    if (n.rfind("tvd-", 0) == 0 && wanted_tunnels.count(n) == 0) {
      TVD_RETURN_IF_ERROR(tunnels_.RemoveTunnel(n));
    }
  }
  // Guards of TVDs no longer here go only after their tunnels and devices.
  std::set<std::uint16_t> wanted_guards;
  if (!config_.ipsec_tun_device.empty()) {
    for (const TvdSpec& t : desired.tvds) {
      wanted_guards.insert(VxlanPortForTvd(t.tvd_id));
    }
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint16_t> guards,
                       links_.ListVxlanGuards());
  for (std::uint16_t port : guards) {
    if (wanted_guards.count(port) == 0) {
      TVD_RETURN_IF_ERROR(links_.RemoveVxlanGuard(port));
    }
  }
  return Status::Ok();
}

StatusOr<std::uint16_t> HostNetwork::VlanOf(const std::string& tvd,
                                            const std::string& network) {
  TVD_ASSIGN_OR_RETURN(Snapshot snap, Read());
  auto allocs = Allocations(snap);
  auto it = allocs.find(tvd + ":" + network);
  if (it == allocs.end()) {
    return NotFound("no VLAN for TVD " + tvd + " network " + network);
  }
  return it->second.vlan;
}

}  // namespace tvd::vswitch
