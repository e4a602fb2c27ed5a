#include "tvd/libvirt_filter/total_quota_claims.h"

#include "tvd/host/control_socket.h"

namespace tvd::libvirt_filter {

Status ProxyUsageClaims::Claim(const std::string& tvd,
                               const policy::QuotaAmounts& held,
                               const policy::QuotaAmounts& adds) {
  host::ControlRequest request;
  request.op = host::ControlOp::kUsage;
  request.tvd = tvd;
  request.held = held;
  request.adds = adds;
  StatusOr<host::ControlResponse> response = host::CallControl(
      host::UsageSocketPath(run_dir_, tvd), request, timeout_);
  if (!response.ok()) {
    return Unavailable(
        "the proxy of TVD " + tvd +
        " on this host cannot be reached: " + response.status().message());
  }
  return response->status;
}

}  // namespace tvd::libvirt_filter
