// The host network operations one TVD's proxy uses, as an interface over
// vswitch::HostNetwork (HostTvdNetwork below) so unit tests use a fake.
#pragma once

#include <memory>
#include <string>

#include "tvd/status.h"
#include "tvd/vswitch/host_network.h"

namespace tvd::proxy {

class TvdNetwork {
 public:
  virtual ~TvdNetwork() = default;
  virtual Status JoinTvd(const vswitch::TvdSpec& spec) = 0;
  virtual Status PlugVmPort(const vswitch::VmPortSpec& port) = 0;
  virtual Status UnplugVmPort(const std::string& port) = 0;
  virtual Status LeaveTvd(const std::string& tvd) = 0;
};

// Forwards to a HostNetwork (after EnsureBridge on first use).
class HostTvdNetwork : public TvdNetwork {
 public:
  explicit HostTvdNetwork(vswitch::HostNetwork& network) : network_(network) {}
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

 private:
  vswitch::HostNetwork& network_;
};

}  // namespace tvd::proxy
