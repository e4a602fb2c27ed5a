// Parser for TVD policy documents (<tvd-policy xmlns="urn:tvd:policy:1">),
// the schema in docs/policy.md.
//
// Strict: unknown elements and attributes, duplicates, out-of-range numbers,
// malformed digests, disallowed IPsec algorithms and missing required parts
// are errors. Parsing stops at the first error, returned as an
// InvalidArgument "FILE:LINE: message" (policy_error.h). Input limits and
// XML safety rules are those of xml_reader.h.
#pragma once

#include <string>
#include <string_view>

#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tinyxml2 {
class XMLDocument;
}

namespace tvd::policy {

// `source` names the input in errors.
StatusOr<TvdPolicy> ParseTvdPolicy(std::string_view xml,
                                   std::string_view source);
StatusOr<TvdPolicy> LoadTvdPolicyFile(const std::string& path);

// The same on an already parsed document (from xml_reader.h).
StatusOr<TvdPolicy> ReadTvdPolicy(const tinyxml2::XMLDocument& doc,
                                  std::string_view source);

}  // namespace tvd::policy
