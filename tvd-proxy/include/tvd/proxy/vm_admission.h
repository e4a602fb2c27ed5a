// Admitting a VM at attach time: the declared configuration must be allowed
// by the TVD policy (CheckVmAgainstPolicies) AND the real files must hash to
// the policy's known-good values.
#pragma once

#include <map>
#include <string>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/vm_config.h"
#include "tvd/proxy/measurement_cache.h"
#include "tvd/status.h"

namespace tvd::proxy {

// OK, or PermissionDenied with the exact reason, e.g.
//   "VM 'web': measured kernel /img/vmlinuz has sha256 ab12... but TVD
//    'blue' expects cd34..."
// or the IoError of a part that cannot be read.
Status AdmitVm(const policy::VmConfig& vm, const policy::TvdPolicy& policy,
               MeasurementCache& cache);

// <interface><target dev=X/><mac address=M/> pairs of a domain XML, by X.
// InvalidArgument when the XML does not parse.
StatusOr<std::map<std::string, std::string>> InterfaceMacs(
    const std::string& domain_xml);

// The domain XML with, in each named disk's <source>, an
// <encryption format='luks'><secret type='passphrase' uuid=U/></encryption>
// (replacing any <encryption> there). NotFound for a disk target that is not
// in the domain or has no <source>.
StatusOr<std::string> WithDiskSecrets(
    const std::string& domain_xml,
    const std::map<std::string, std::string>& secret_by_disk);

}  // namespace tvd::proxy
