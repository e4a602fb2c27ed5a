// Kernel network devices the TVD network model needs on a host: one VXLAN
// device per TVD network, with one flooding (all-zero MAC) FDB entry per
// peer host. Behind an interface so unit tests use a fake; the real one runs
// `ip` / `bridge` (iproute2) in the host's network namespace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tvd/status.h"

namespace tvd::vswitch {

struct VxlanLink {
  std::string name;           // at most 15 characters
  std::uint32_t vni = 0;      // 1..16777215
  std::string local_address;  // underlay address packets are sent from
  std::uint16_t dstport = 0;  // UDP port (per TVD, see VxlanPortForTvd)
};

class LinkManager {
 public:
  virtual ~LinkManager() = default;
  // Creates the device (up, no MAC learning from the underlay). OK when a
  // device of that name already exists with the same VNI and port;
  // FailedPrecondition when it exists but differs.
  virtual Status EnsureVxlan(const VxlanLink& link) = 0;
  // Makes the device's flooding entries exactly `peer_addresses`.
  virtual Status SetVxlanPeers(const std::string& name,
                               const std::vector<std::string>& peers) = 0;
  // NotFound when there is no such device.
  virtual Status DeleteLink(const std::string& name) = 0;
  // Names of devices whose name starts with `prefix`.
  virtual StatusOr<std::vector<std::string>> ListLinks(
      const std::string& prefix) = 0;

  // VXLAN port guard, for hosts whose ESP runs in userspace (charon's
  // kernel-libipsec): the kernel has no IPsec policy there, so without a
  // guard a TVD's VXLAN packets would leave in plaintext whenever its SA is
  // missing, and plaintext VXLAN from the underlay would be accepted. The
  // guard lets UDP to `port` pass only through the IPsec TUN device
  // `tun_device`: inbound only from it, outbound only into it (that is, only
  // along the routes charon installs for an established SA); anything else
  // to that port is dropped. It also steers the port's outbound traffic
  // into `tun_device` with a routing rule of the port's own (see
  // IpLinkManager), so no other TVD's tunnel coming or going changes the
  // path of this TVD's packets. Idempotent.
  virtual Status EnsureVxlanGuard(std::uint16_t port,
                                  const std::string& tun_device) = 0;
  // Removes the guard and the steering rule of `port` (OK when there are
  // none).
  virtual Status RemoveVxlanGuard(std::uint16_t port) = 0;
  // Ports that currently have a guard.
  virtual StatusOr<std::vector<std::uint16_t>> ListVxlanGuards() = 0;
};

// LinkManager on iproute2 (and, for the guard, nftables) commands, run
// inside network namespace `netns`
// (empty: the caller's own).
//
// Steering: `ip rule` priority kVxlanRulePriority (before charon's 220)
// `ipproto udp dport PORT lookup kVxlanRouteTable`, one rule per guarded
// port, and in that table the one route `default dev TUN`, shared by all
// TVDs and left in place (the kernel drops it with the device).
class IpLinkManager : public LinkManager {
 public:
  static constexpr int kVxlanRulePriority = 210;
  static constexpr int kVxlanRouteTable = 2200;

  explicit IpLinkManager(std::string netns = "") : netns_(std::move(netns)) {}
  Status EnsureVxlan(const VxlanLink& link) override;
  Status SetVxlanPeers(const std::string& name,
                       const std::vector<std::string>& peers) override;
  Status DeleteLink(const std::string& name) override;
  StatusOr<std::vector<std::string>> ListLinks(
      const std::string& prefix) override;
  Status EnsureVxlanGuard(std::uint16_t port,
                          const std::string& tun_device) override;
  Status RemoveVxlanGuard(std::uint16_t port) override;
  StatusOr<std::vector<std::uint16_t>> ListVxlanGuards() override;

 private:
  Status EnsureVxlanSteering(std::uint16_t port, const std::string& tun_device);
  // Ports with a steering rule.
  StatusOr<std::vector<std::uint16_t>> ListSteeredPorts();
  // Runs argv in the namespace; returns stdout, or the error with stderr.
  StatusOr<std::string> Run(const std::vector<std::string>& argv);
  // Runs argv with a temporary file holding `input` appended as last arg.
  StatusOr<std::string> RunWithInput(const std::vector<std::string>& argv,
                                     const std::string& input);
  std::string netns_;
};

}  // namespace tvd::vswitch
