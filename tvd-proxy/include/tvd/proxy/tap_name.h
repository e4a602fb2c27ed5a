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
#include <string_view>

namespace tvd::proxy {

// Every tap name the proxy hands out starts with this. The names are
// derived from public facts, so whatever defines domains for a tenant (the
// libvirt relay) must refuse interface targets in this namespace: a tenant
// domain taking an admitted VM's tap name while that VM is down would land
// on the port the proxy keeps for it.
inline constexpr std::string_view kTapNamePrefix = "tvd";

// "tvd" followed by 12 lower-case hex digits of SHA-256 over (TVD name, TVD
// id, VM name, NIC index): 15 characters, the kernel's limit. Stable: the
// same VM's NIC gets the same name on every attach and host.
std::string TapName(const std::string& tvd, std::uint32_t tvd_id,
                    const std::string& vm, std::size_t nic_index);

}  // namespace tvd::proxy
