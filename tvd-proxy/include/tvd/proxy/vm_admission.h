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

// Every vnet of `vm` is bound to a network of `policy` (the VM's own TVD).
// A vnet bound to any other network makes the VM a gateway between TVDs,
// which a proxy does not admit yet (docs/host.md, "Gateway VMs"):
// PermissionDenied, either
//   "VM 'gw': vnet 'vnet1' is bound to network 'red-data', which is not a
//    network of TVD 'blue', and TVD 'blue''s policy allows VM 'gw' no
//    gateway to another TVD"
// or, when the policy has <gateway> rules for the VM,
//   "VM 'gw': vnet 'vnet1' is bound to network 'red-data' outside TVD
//    'blue'; the policy of TVD 'blue' lets VM 'gw' be a gateway to TVD
//    'red', but gateway VMs are not supported yet: ...".
// Checked before anything is measured or fetched, so a refusal is cheap.
Status CheckVnetsInOwnTvd(const policy::VmConfig& vm,
                          const policy::TvdPolicy& policy);

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

// The domain XML with each <interface><target dev=X> whose X is a key of
// `tap_by_target` renamed to the mapped tap (in every <devices> section).
// NotFound for a key that is no interface target of the domain.
StatusOr<std::string> WithTapNames(
    const std::string& domain_xml,
    const std::map<std::string, std::string>& tap_by_target);

// True when the domain has a <tpm> device of its own (in any <devices>).
// A TVD VM gets a vTPM only through <tvd:vtpm/>, which the proxy turns into
// the one device WithVtpm writes. InvalidArgument when the XML does not
// parse.
StatusOr<bool> HasTpmDevice(const std::string& domain_xml);

// The domain XML with <uuid>`uuid`</uuid> (added when it has none) and, in
// its first <devices> (added when it has none),
//   <tpm model='tpm-crb'><backend type='emulator' version='2.0'>
//     <encryption secret='SECRET_UUID'/></backend></tpm>
// InvalidArgument when the XML does not parse or already has a <tpm>, or
// its <uuid> is not `uuid` (compared ignoring case).
StatusOr<std::string> WithVtpm(const std::string& domain_xml,
                               const std::string& uuid,
                               const std::string& secret_uuid);

}  // namespace tvd::proxy
