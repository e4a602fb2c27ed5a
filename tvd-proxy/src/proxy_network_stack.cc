#include "tvd/proxy/proxy_network_stack.h"

namespace tvd::proxy {

StatusOr<std::unique_ptr<ProxyNetworkStack>> ProxyNetworkStack::Connect(
    const ProxyNetworkEndpoints& e) {
  std::unique_ptr<ProxyNetworkStack> s(new ProxyNetworkStack());
  TVD_ASSIGN_OR_RETURN(s->ovsdb_, vswitch::OvsdbClient::Connect(
                                      {.socket_path = e.ovsdb_socket}));
  s->db_ = std::make_unique<vswitch::OvsdbVswitchDatabase>(*s->ovsdb_);
  s->flows_ =
      vswitch::OpenFlowClient::Create({.socket_path = e.openflow_socket});
  s->links_ = std::make_unique<vswitch::IpLinkManager>(e.netns);
  TVD_ASSIGN_OR_RETURN(s->tunnels_,
                       vici::ViciTunnelBackend::Connect(e.vici_socket));
  s->host_network_ = std::make_unique<vswitch::HostNetwork>(
      e.config, *s->db_, *s->flows_, *s->links_, *s->tunnels_,
      [](const std::string&, const std::string&, const std::string&) {
        return false;
      });
  s->network_ = std::make_unique<HostTvdNetwork>(*s->host_network_, *s->links_);
  return s;
}

}  // namespace tvd::proxy
