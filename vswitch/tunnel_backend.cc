#include "tvd/vswitch/tunnel_backend.h"

namespace tvd::vswitch {

std::string TunnelName(const TunnelSpec& spec) {
  return "tvd-" + spec.tvd + "-" + spec.peer_host;
}

}  // namespace tvd::vswitch
