#include "tvd/policy/vm_policy_check.h"

#include <algorithm>

namespace tvd::policy {

namespace {

std::string Describe(const Measurement& m) {
  std::string s = "measure '" + std::string(MeasureTypeName(m.type)) + "'";
  if (!m.target.empty()) s += " target '" + m.target + "'";
  return s;
}

}  // namespace

Status CheckVmAgainstPolicies(const VmConfig& vm, const TvdPolicy& owner,
                              std::span<const TvdPolicy> others) {
  const std::string who = "VM '" + vm.name + "'";
  const std::string tvd = "TVD '" + owner.name + "'";
  if (vm.IsTemplate()) {
    return PermissionDenied(who + " is a template; derive it first");
  }
  if (vm.tvd.owner != owner.name) {
    return PermissionDenied(who + " belongs to TVD '" + vm.tvd.owner +
                            "', not to " + tvd);
  }
  const VmKnownGood* known = owner.FindVm(vm.name);
  if (known == nullptr) {
    return PermissionDenied(who + " has no known-good measurements in " + tvd +
                            "'s policy");
  }
  for (const Measurement& good : known->measures) {
    const Measurement* declared = vm.FindMeasure(good.type, good.target);
    if (declared == nullptr) {
      return PermissionDenied(who + ": " + Describe(good) + " required by " +
                              tvd + "'s policy is not declared");
    }
    if (declared->sha256 != good.sha256) {
      return PermissionDenied(who + ": " + Describe(good) + " differs from " +
                              tvd + "'s known-good value");
    }
  }
  for (const Measurement& m : vm.tvd.measures) {
    if (known->measures.end() ==
        std::find_if(known->measures.begin(), known->measures.end(),
                     [&](const Measurement& g) {
                       return g.type == m.type && g.target == m.target;
                     })) {
      return PermissionDenied(who + ": " + Describe(m) +
                              " has no known-good "
                              "value in " +
                              tvd + "'s policy");
    }
  }
  for (const VnetBinding& v : vm.tvd.vnets) {
    if (owner.FindNetwork(*v.network) != nullptr) continue;
    bool allowed = false;
    for (const TvdPolicy& other : others) {
      if (other.FindNetwork(*v.network) != nullptr &&
          GatewayAllowed(owner, other, vm.name)) {
        allowed = true;
      }
    }
    if (!allowed) {
      return PermissionDenied(
          who + ": vnet '" + v.target + "' is bound to network '" + *v.network +
          "', which is neither " + tvd +
          "'s nor a TVD's that both policies let this VM reach as a gateway");
    }
  }
  if (!vm.tvd.encrypted_disks.empty() && !owner.ReleasesDiskKeyTo(vm.name)) {
    return PermissionDenied(who + ": disk '" + vm.tvd.encrypted_disks.front() +
                            "' is encrypted but " + tvd +
                            " releases no disk key to this VM");
  }
  if (vm.tvd.vtpm && !owner.GrantsVtpmTo(vm.name)) {
    return PermissionDenied(who + ": asks for a vTPM but " + tvd +
                            " gives this VM none");
  }
  return Status::Ok();
}

}  // namespace tvd::policy
