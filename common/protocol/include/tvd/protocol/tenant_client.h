// Tenant side of the master protocol: a tenant's one request, the deep
// quote of one of its VMs (docs/vtpm.md). The master answers with evidence
// the tenant verifies itself (attest::VerifyDeepQuote); nothing in the
// answer is trusted before that.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tvd/channel/tls_context.h"
#include "tvd/protocol/master_client.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::protocol {

// Sends `request` on a fresh connection to `endpoint` (whose certificate
// must name endpoint.identity) with the tenant certificate of `tls` and
// returns the evidence JSON. The master's refusals as "peer: ...":
// PermissionDenied when the TVD is not the tenant's, NotFound when the VM
// has no vTPM, Unavailable when the VM's host is served by another master
// replica or the guest did not answer, FailedPrecondition when the host is
// not a member any more. Unavailable when the master cannot be reached.
StatusOr<std::string> RequestVmAttestation(
    const MasterEndpoint& endpoint, const channel::TlsContext& tls,
    const VmAttestRequest& request,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// RequestVmAttestation against each master of `masters` in turn until one
// answers other than Unavailable (a replica that does not serve the VM's
// host, or is down); the last master's error when none does.
StatusOr<std::string> RequestVmAttestationFromAny(
    const std::vector<MasterEndpoint>& masters,
    const channel::TlsContext& tls, const VmAttestRequest& request,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace tvd::protocol
