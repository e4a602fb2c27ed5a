#include "tvd/proxy/usage_claims.h"

namespace tvd::proxy {

host::ControlResponse HandleUsageClaim(MasterLink& master,
                                       const std::string& tvd,
                                       const host::ControlRequest& request) {
  host::ControlResponse r;
  r.result = nlohmann::json::object();
  if (request.op != host::ControlOp::kUsage) {
    r.status =
        InvalidArgument("op '" + std::string(host::ControlOpName(request.op)) +
                        "' is not served on the usage socket");
  } else if (request.tvd != tvd) {
    r.status = InvalidArgument("this proxy serves TVD '" + tvd + "', not '" +
                               request.tvd + "'");
  } else {
    r.status = master.ClaimUsage(tvd, request.held, request.adds);
  }
  return r;
}

}  // namespace tvd::proxy
