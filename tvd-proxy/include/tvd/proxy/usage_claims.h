// The proxy's end of its TVD's total quota: the host's libvirt relay sends
// a claim (control op "usage") on the proxy's usage socket before a tenant
// call adds to what the TVD holds here, and the proxy forwards it to the
// master under this host's identity.
//
// Why through the proxy: it is the TVD's member on this host. The master
// counts a host's usage only while the host is an attested member, and
// drops it when the host leaves; the relay itself holds no master
// credentials. Why a socket of its own: the main control socket serves one
// request at a time, and a tenant's define must not wait behind an attach.
#pragma once

#include <string>

#include "tvd/host/control_protocol.h"
#include "tvd/proxy/master_link.h"

namespace tvd::proxy {

// Answers one request of the usage socket. Only op "usage" for `tvd` is
// served (InvalidArgument "op '<op>' is not served on the usage socket" /
// "this proxy serves TVD 'X', not 'Y'"); the master's answer is returned
// as it is: OK (empty result object), ResourceExhausted with the quota's
// wording, Unavailable when the master cannot be reached.
host::ControlResponse HandleUsageClaim(MasterLink& master,
                                       const std::string& tvd,
                                       const host::ControlRequest& request);

}  // namespace tvd::proxy
