// Whether a VM configuration is allowed by the TVD policies (default deny).
//
// This is the static part of admitting a VM: it compares what the VM
// configuration declares with what the policies allow. Measuring the real
// files and comparing them is the proxy's job at attach time; it uses the
// same known-good values.
#pragma once

#include <span>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/vm_config.h"
#include "tvd/status.h"

namespace tvd::policy {

// OK only when all of these hold:
//   - `vm` is final (not a template) and belongs to `owner` (tvd owner ==
//     owner.name);
//   - `owner` lists the VM (by domain name) in <vms>, and the VM declares
//     exactly the policy's measures (same types and disk targets) with the
//     same digests;
//   - every vnet is bound to a network of `owner`, or of a TVD in `others`
//     for which GatewayAllowed(owner, other, vm.name) holds;
//   - the VM has encrypted disks only if `owner` releases a disk key to it.
// Otherwise PermissionDenied naming the VM and the first rule it breaks,
// e.g. "VM 'cms-server': measure 'kernel' differs from TVD 'blue''s
// known-good value".
Status CheckVmAgainstPolicies(const VmConfig& vm, const TvdPolicy& owner,
                              std::span<const TvdPolicy> others = {});

}  // namespace tvd::policy
