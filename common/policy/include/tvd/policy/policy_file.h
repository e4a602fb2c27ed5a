// Loading a policy file of any kind, chosen by its root element:
//   <tvd-policy>        -> TvdPolicy        (tvd_policy_parser.h)
//   <host-requirements> -> HostRequirements (host_requirements_parser.h)
//   <domain>            -> VmConfig         (vm_config_parser.h)
// This is what `tvdctl policy validate|show|digest` and the fuzz target use.
// Errors: "FILE:LINE: message" (policy_error.h); any other root element is
// "FILE:LINE: root element is <x>, expected <tvd-policy>,
// <host-requirements> or <domain>".
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/vm_config.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::policy {

using AnyPolicy = std::variant<TvdPolicy, HostRequirements, VmConfig>;

// `vm_mode` applies when the file is a VM configuration.
StatusOr<AnyPolicy> ParseAnyPolicy(std::string_view xml,
                                   std::string_view source,
                                   VmConfigMode vm_mode);
StatusOr<AnyPolicy> LoadAnyPolicyFile(const std::string& path,
                                      VmConfigMode vm_mode);

// "TVD policy", "host requirements", "VM configuration" or "VM template".
std::string_view DescribeKind(const AnyPolicy& policy);

// Canonical JSON (canonical.h) of whichever kind it is.
std::string ToJson(const AnyPolicy& policy, int indent = -1);
Sha256Digest CanonicalDigest(const AnyPolicy& policy);

}  // namespace tvd::policy
