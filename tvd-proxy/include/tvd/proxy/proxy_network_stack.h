// The real network side of one tvd-proxy, wired in one place: the OVSDB and
// OpenFlow clients of the host's Open vSwitch, ip links in the host's
// network namespace and charon over VICI, under one vswitch::HostNetwork,
// seen by the proxy as a TvdNetwork. tvd-proxy's wiring and the integration
// tests that run TvdProxy in process against real daemons both build it, so
// the tests drive exactly what the daemon drives.
#pragma once

#include <memory>
#include <string>

#include "tvd/proxy/tvd_network.h"
#include "tvd/status.h"
#include "tvd/vswitch/network/host_network.h"
#include "tvd/vswitch/network/link_manager.h"
#include "tvd/vswitch/network/ovsdb_vswitch_database.h"
#include "tvd/vswitch/openflow/openflow_client.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"
#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace tvd::proxy {

struct ProxyNetworkEndpoints {
  std::string ovsdb_socket;     // the host's ovsdb-server (UNIX socket)
  std::string openflow_socket;  // the TVD bridge's OpenFlow management socket
  std::string netns;            // the host's network namespace ("" = this one)
  std::string vici_socket;      // charon's VICI socket
  vswitch::HostNetwork::Config config;  // bridge, datapath, who this host is
};

class ProxyNetworkStack {
 public:
  // Connects to OVSDB and charon (the OpenFlow client connects on first
  // use). Errors are the clients' own connect errors. A single proxy knows
  // only its own TVD's policy, so every gateway between TVDs is refused
  // (default deny).
  static StatusOr<std::unique_ptr<ProxyNetworkStack>> Connect(
      const ProxyNetworkEndpoints& endpoints);

  TvdNetwork& network() { return *network_; }
  // The model under it, for a test that changes the switch as another
  // controller (an earlier proxy version) would.
  vswitch::HostNetwork& host_network() { return *host_network_; }

 private:
  ProxyNetworkStack() = default;

  // In construction order: each uses the ones above it.
  std::unique_ptr<vswitch::OvsdbClient> ovsdb_;
  std::unique_ptr<vswitch::OvsdbVswitchDatabase> db_;
  std::unique_ptr<vswitch::OpenFlowClient> flows_;
  std::unique_ptr<vswitch::IpLinkManager> links_;
  std::unique_ptr<vici::ViciTunnelBackend> tunnels_;
  std::unique_ptr<vswitch::HostNetwork> host_network_;
  std::unique_ptr<HostTvdNetwork> network_;
};

}  // namespace tvd::proxy
