// The contract between the TVD network model and whatever protects traffic
// between hosts (strongSwan over VICI in production and integration tests, a
// fake in unit tests).
//
// One tunnel = the IPsec protection of one TVD's VXLAN traffic between this
// host and one peer host. Tunnels of different TVDs never share an SA or a
// key: each TVD's VXLAN traffic uses its own UDP port (VxlanPortForTvd), and
// the tunnel's traffic selectors name that port, so the kernel hands each
// TVD's packets only to that TVD's child SA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::vswitch {

// TVD ids are 1..16383; their VXLAN UDP ports are 49152 + id, inside the
// dynamic port range, so both ends derive the same port with no negotiation.
inline constexpr std::uint32_t kMaxTvdId = 16383;
inline constexpr std::uint16_t VxlanPortForTvd(std::uint32_t tvd_id) {
  return static_cast<std::uint16_t>(49152 + tvd_id);
}

struct TunnelSpec {
  std::string tvd;            // TVD name, e.g. "blue"
  std::uint32_t tvd_id = 0;   // 1..kMaxTvdId
  std::string local_host;     // this host's identity, e.g. "host1"
  std::string peer_host;      // the peer's identity, e.g. "host2"
  std::string local_address;  // underlay IPv4/IPv6 address of this host
  std::string peer_address;   // underlay address of the peer
  // IKE and ESP proposals from the TVD policy, e.g.
  // "aes256gcm16-prfsha256-ecp256" and "aes256gcm16-ecp256".
  std::vector<std::string> ike_proposals;
  std::vector<std::string> esp_proposals;
  // Authentication secret for this TVD between these two hosts; both hosts
  // hold the same value (handed out by the TVD master). Never logged.
  const SecureBytes* psk = nullptr;
  // Whether this end starts the IKE exchange (exactly one of the two ends
  // does: by convention the host whose identity sorts first).
  bool initiator = false;
};

// Name of a tunnel as the backend reports it: "tvd-<tvd>-<peer_host>".
std::string TunnelName(const TunnelSpec& spec);

class TunnelBackend {
 public:
  virtual ~TunnelBackend() = default;

  // Creates or updates the tunnel so that it matches `spec` (idempotent).
  // On failure nothing of this tunnel is left half-configured.
  virtual Status EnsureTunnel(const TunnelSpec& spec) = 0;

  // Removes the tunnel named `name` (its SAs, configuration and secret).
  // NotFound when there is no such tunnel.
  virtual Status RemoveTunnel(const std::string& name) = 0;

  // Names of the tunnels the backend currently has configured, so that a
  // restarted controller can reconcile (remove stale ones, re-add missing).
  virtual StatusOr<std::vector<std::string>> ListTunnels() = 0;
};

}  // namespace tvd::vswitch
