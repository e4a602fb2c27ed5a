// Pieces shared by the policy parsers (internal).
#pragma once

#include <tinyxml2.h>

#include <map>
#include <string>
#include <string_view>

#include "element_reader.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tvd::policy::internal {

// Reads a sha256 attribute (64 hex digits, either case).
StatusOr<Sha256Digest> ReadDigest(const ElementReader& r,
                                  std::string_view attr);

// Reads the attributes and children of a <host-requirements> element. The
// caller has already checked `xmlns` where it is allowed; `extra_attrs` lists
// attributes the caller accepts besides ours.
StatusOr<HostRequirements> ReadHostRequirements(
    const ElementReader& r, std::initializer_list<std::string_view> extra);

// Reads one measure element (<measure> or <tvd:measure>): type, target (disk
// only), sha256 (required when `require_digest`).
StatusOr<Measurement> ReadMeasure(const ElementReader& r, bool require_digest);

// Adds a measure to `list`, rejecting a second one with the same
// (type, target). `first_lines` remembers where each was seen.
Status AddMeasure(const ElementReader& r, Measurement m,
                  std::vector<Measurement>& list,
                  std::map<std::string, int>& first_lines);

// Checks that `doc`'s root is <expected> with xmlns="urn:tvd:policy:1".
StatusOr<const tinyxml2::XMLElement*> PolicyRoot(
    const tinyxml2::XMLDocument& doc, std::string_view file,
    std::string_view expected);

}  // namespace tvd::policy::internal

namespace tvd::policy::internal {

// The TVD settings element inside <domain><metadata> (local name "tvd" in the
// urn:tvd:vm:1 namespace), or null. `prefix` receives its namespace prefix
// ("" for a default-namespace declaration).
const tinyxml2::XMLElement* FindTvdMetadata(const tinyxml2::XMLElement& domain,
                                            std::string* prefix);

}  // namespace tvd::policy::internal
