// What a member host receives of its TVD's policy: the JoinGrant and every
// PolicyUpdate carry the policy without the subjects under
// <authorized-hosts> (the element stays, empty, so the view is a policy the
// host parses as before), and the digest they carry is the view's.
//
// Why: which hosts may join a TVD is the master's decision alone; a host
// enforces the networks, VMs, transport and requirements and never looks at
// the list. Need to know says it should not learn every host of the TVD,
// and a TVD of 10,000 hosts would otherwise send a list of 10,000 subjects
// (about 390 KB) with every grant and every policy update to every member.
// A change of the list alone changes nothing a member enforces: no update
// is sent for it.
#pragma once

#include <string>
#include <string_view>

#include "tvd/policy/tvd_policy.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::policy {

// The member view of policy text `xml` (a policy the caller parsed): the
// same document with the children of the root's <authorized-hosts> removed.
// Errors: the XML loader's (xml_reader.h) for text that does not load, or
// InvalidArgument when the root has no <authorized-hosts> child.
StatusOr<std::string> MemberViewXml(std::string_view xml,
                                    std::string_view source);

// CanonicalDigest of `policy` as a member sees it (no authorized hosts):
// equal to CanonicalDigest(ParseTvdPolicy(MemberViewXml(xml))) for the
// text `policy` was parsed from.
Sha256Digest MemberViewDigest(const TvdPolicy& policy);

}  // namespace tvd::policy
