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
};

// LinkManager on iproute2 commands, run inside network namespace `netns`
// (empty: the caller's own).
class IpLinkManager : public LinkManager {
 public:
  explicit IpLinkManager(std::string netns = "") : netns_(std::move(netns)) {}
  Status EnsureVxlan(const VxlanLink& link) override;
  Status SetVxlanPeers(const std::string& name,
                       const std::vector<std::string>& peers) override;
  Status DeleteLink(const std::string& name) override;
  StatusOr<std::vector<std::string>> ListLinks(
      const std::string& prefix) override;

 private:
  // Runs argv in the namespace; returns stdout, or the error with stderr.
  StatusOr<std::string> Run(const std::vector<std::string>& argv);
  std::string netns_;
};

}  // namespace tvd::vswitch
