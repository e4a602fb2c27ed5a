#include "tvd/policy/tvd_policy.h"

#include <algorithm>

namespace tvd::policy {

const Network* TvdPolicy::FindNetwork(std::string_view network_name) const {
  for (const Network& n : networks) {
    if (n.name == network_name) return &n;
  }
  return nullptr;
}

const VmKnownGood* TvdPolicy::FindVm(std::string_view vm_name) const {
  for (const VmKnownGood& v : vms) {
    if (v.vm == vm_name) return &v;
  }
  return nullptr;
}

bool TvdPolicy::IsHostAuthorized(std::string_view subject) const {
  return std::find(authorized_hosts.begin(), authorized_hosts.end(), subject) !=
         authorized_hosts.end();
}

bool TvdPolicy::ReleasesDiskKeyTo(std::string_view vm_name) const {
  return std::find(disk_key_vms.begin(), disk_key_vms.end(), vm_name) !=
         disk_key_vms.end();
}

bool TvdPolicy::GrantsVtpmTo(std::string_view vm_name) const {
  if (FindVm(vm_name) == nullptr) return false;
  return vtpm_all_vms ||
         std::find(vtpm_vms.begin(), vtpm_vms.end(), vm_name) != vtpm_vms.end();
}

namespace {
bool AllowsOneWay(const TvdPolicy& from, const TvdPolicy& to,
                  std::string_view vm) {
  return std::any_of(
      from.gateways.begin(), from.gateways.end(),
      [&](const GatewayRule& g) { return g.vm == vm && g.peer == to.name; });
}
}  // namespace

bool GatewayAllowed(const TvdPolicy& a, const TvdPolicy& b,
                    std::string_view vm) {
  if (a.name == b.name) return false;
  return AllowsOneWay(a, b, vm) && AllowsOneWay(b, a, vm);
}

std::string_view NetworkKindName(NetworkKind kind) {
  return kind == NetworkKind::kData ? "data" : "management";
}

std::string_view MeasureTypeName(MeasureType type) {
  switch (type) {
    case MeasureType::kConfig:
      return "config";
    case MeasureType::kKernel:
      return "kernel";
    case MeasureType::kInitrd:
      return "initrd";
    case MeasureType::kDisk:
      return "disk";
  }
  return "config";
}

}  // namespace tvd::policy
