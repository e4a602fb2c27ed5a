// The host network operations one TVD's proxy uses, as an interface over
// vswitch::HostNetwork (HostTvdNetwork below) so unit tests use a fake.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/network/host_network.h"
#include "tvd/vswitch/network/link_manager.h"

namespace tvd::proxy {

class TvdNetwork {
 public:
  virtual ~TvdNetwork() = default;
  virtual Status JoinTvd(const vswitch::TvdSpec& spec) = 0;
  virtual Status PlugVmPort(const vswitch::VmPortSpec& port) = 0;
  virtual Status UnplugVmPort(const std::string& port) = 0;
  virtual Status LeaveTvd(const std::string& tvd) = 0;
  // Every VM port the host's switch records for `tvd`, whoever plugged it
  // (this proxy, an earlier version of it, or one that died between plug
  // and record). The error when the switch cannot be read: the caller then
  // cannot tell which ports are stale.
  virtual StatusOr<std::vector<vswitch::VmPortInfo>> ListVmPorts(
      const std::string& tvd) = 0;
  // Whether a network device of that name exists on the host (in the
  // namespace the VMs' taps live in).
  virtual StatusOr<bool> LinkExists(const std::string& name) = 0;
};

// Forwards to a HostNetwork (after EnsureBridge on first use); links are
// looked up through the LinkManager of the same namespace.
class HostTvdNetwork : public TvdNetwork {
 public:
  HostTvdNetwork(vswitch::HostNetwork& network, vswitch::LinkManager& links)
      : network_(network), links_(links) {}
  Status JoinTvd(const vswitch::TvdSpec& spec) override {
    TVD_RETURN_IF_ERROR(network_.EnsureBridge());
    return network_.JoinTvd(spec);
  }
  Status PlugVmPort(const vswitch::VmPortSpec& port) override {
    return network_.PlugVmPort(port);
  }
  Status UnplugVmPort(const std::string& port) override {
    return network_.UnplugVmPort(port);
  }
  Status LeaveTvd(const std::string& tvd) override {
    return network_.LeaveTvd(tvd);
  }
  StatusOr<std::vector<vswitch::VmPortInfo>> ListVmPorts(
      const std::string& tvd) override {
    return network_.ListVmPorts(tvd);
  }
  StatusOr<bool> LinkExists(const std::string& name) override {
    TVD_ASSIGN_OR_RETURN(auto links, links_.ListLinks(name));
    for (const std::string& l : links) {
      if (l == name) return true;
    }
    return false;
  }

 private:
  vswitch::HostNetwork& network_;
  vswitch::LinkManager& links_;
};

}  // namespace tvd::proxy
