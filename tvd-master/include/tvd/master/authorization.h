// Which host may join which TVD, and what its TCB must look like.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "tvd/attest/requirements.h"
#include "tvd/pki/identity.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tvd::master {

// True when a policy's authorized-host `subject` names `host`. The subject
// is a comma-separated DN ("CN=node1,O=Example VDC", any order, optional
// spaces after commas): its CN must equal the identity's name and an OU, when
// given, must be "host". O names the CA and is not compared (one VDC CA is
// trusted per deployment). Only host identities ever match.
bool SubjectNamesHost(std::string_view subject, const pki::Identity& host);

// The same rules for a tenant: `subject` (a TVD policy's <owner>) names
// the tenant identity `tenant` when its one CN is the tenant's name and an
// OU, when given, is "tenant". Only tenant identities ever match.
bool SubjectNamesTenant(std::string_view subject, const pki::Identity& tenant);

// OK, or PermissionDenied "host NAME is not authorized for TVD TVD" (also for
// identities that are not hosts: "ROLE:NAME is not a host").
Status AuthorizeHost(const policy::TvdPolicy& policy,
                     const pki::Identity& peer);

// The policy's host requirements as verifier input: each <pcr> (sha256 bank)
// with its known-good values, allow-no-tpm, the interval, and the IMA
// allowlist read from its file when one is named. The file must hash to the
// digest the policy pins (InvalidArgument "IMA allowlist PATH has digest X,
// the policy pins Y"); its lines are "<sha256 hex> <absolute path>", blank
// lines and lines starting with '#' ignored (InvalidArgument "PATH:LINE:
// ..." for anything else).
// The host names AuthorizeHost admits for `policy`: exactly the names h
// with AuthorizeHost(policy, host:h) OK, computed in one pass over the
// subjects (a policy update checks every member against it).
std::set<std::string> AuthorizedHostNames(const policy::TvdPolicy& policy);

StatusOr<attest::TcbRequirements> RequirementsFor(
    const policy::TvdPolicy& policy);

}  // namespace tvd::master
