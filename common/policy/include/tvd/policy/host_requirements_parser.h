// Parser for host TCB requirement templates: a standalone
// <host-requirements xmlns="urn:tvd:policy:1" ...> document with the same
// content as the <host-requirements> element of a TVD policy, so a template
// is included in a policy by copying the element.
//
// Errors: the first problem found, as "FILE:LINE: message" (policy_error.h).
#pragma once

#include <string>
#include <string_view>

#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tinyxml2 {
class XMLDocument;
}

namespace tvd::policy {

StatusOr<HostRequirements> ParseHostRequirements(std::string_view xml,
                                                 std::string_view source);
StatusOr<HostRequirements> LoadHostRequirementsFile(const std::string& path);

// The same on an already parsed document (from xml_reader.h).
StatusOr<HostRequirements> ReadHostRequirements(
    const tinyxml2::XMLDocument& doc, std::string_view source);

}  // namespace tvd::policy
