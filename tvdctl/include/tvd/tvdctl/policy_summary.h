// Human-readable summary of a policy file for `tvdctl policy show`: what a
// TVD policy allows, what a host requirement template demands, what a VM
// configuration or template binds and measures. Digests are shown in full,
// because operators compare them.
#pragma once

#include <string>

#include "tvd/policy/policy_file.h"

namespace tvd::tvdctl {

std::string Summarize(const tvd::policy::AnyPolicy& policy);

}  // namespace tvd::tvdctl
