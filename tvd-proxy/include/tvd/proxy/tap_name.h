// Names of the host taps of TVD VMs: a namespace the proxy owns.
//
// The VM configuration names each NIC (<interface><target dev=X>, bound to
// a TVD network by <tvd:vnet target=X>), but that name is the operator's
// identifier of the NIC, never the host device: at attach the proxy
// rewrites <target dev> to TapName(...), so neither a configuration nor a
// tenant picks which host device a VM's NIC becomes, and a restarted proxy
// plugs only the names it handed out (AdmissionStore).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tvd::proxy {

// "tvd" followed by 12 lower-case hex digits of SHA-256 over (TVD name, TVD
// id, VM name, NIC index): 15 characters, the kernel's limit. Stable: the
// same VM's NIC gets the same name on every attach and host.
std::string TapName(const std::string& tvd, std::uint32_t tvd_id,
                    const std::string& vm, std::size_t nic_index);

}  // namespace tvd::proxy
