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

// True when the domain has a <channel> whose <target> names the guest
// attestation port (attest::kGuestAttestPort), in any <devices>. Only the
// proxy writes one (WithVtpm): the socket behind it is where the proxy
// asks the guest for quotes. InvalidArgument when the XML does not parse.
StatusOr<bool> HasAttestChannel(const std::string& domain_xml);

// The path of the socket libvirt made for the guest attestation port of a
// running domain (its live XML: <channel type='unix'><source mode='bind'
// path='P'/><target type='virtio' name='org.tvd.attest.0'/>).
// NotFound "domain has no attestation channel" when none names the port;
// InvalidArgument when the XML does not parse, more than one names it,
// or it is not a unix channel bound to an absolute path.
StatusOr<std::string> AttestChannelSocket(const std::string& live_xml);

// libvirt's own directory for the sockets of channels it names itself
// (the QEMU driver's channel_target_dir).
inline constexpr char kLibvirtChannelDir[] =
    "/var/lib/libvirt/qemu/channel/target";

// The attestation socket `socket` (AttestChannelSocket: a path as libvirtd
// sees it) as this process reaches it, where libvirt's channel directory
// (kLibvirtChannelDir) is `seen_at` (the same path on a host where both
// share one file system; elsewhere when libvirtd runs in a mount namespace
// of its own). The proxy connects only there: InvalidArgument "the
// attestation socket P is not in libvirt's channel directory D" for any
// other path, or one with a "." or ".." component.
StatusOr<std::string> ChannelSocketSeenAt(const std::string& socket,
                                          const std::string& seen_at);

// The domain XML with <uuid>`uuid`</uuid> (added when it has none) and, in
// its first <devices> (added when it has none),
//   <tpm model='tpm-crb'><backend type='emulator' version='2.0'>
//     <encryption secret='SECRET_UUID'/></backend></tpm>
//   <channel type='unix'><target type='virtio' name='org.tvd.attest.0'/>
//   </channel>
// (the guest agent's port for deep quotes; libvirt picks the socket path),
// and <features><acpi/></features> when the domain lacks it (the guest
// finds a CRB TPM through ACPI only).
// InvalidArgument when the XML does not parse or already has a <tpm> or
// an attestation channel, or its <uuid> is not `uuid` (compared ignoring
// case).
StatusOr<std::string> WithVtpm(const std::string& domain_xml,
                               const std::string& uuid,
                               const std::string& secret_uuid);

}  // namespace tvd::proxy
