// Canonical forms and digests of policies.
//
// The digest of a policy travels in the protocol so that both ends know they
// enforce the same version, so the canonical form depends only on semantic
// values: not on whitespace, comments, attribute order or the order of
// elements within a set. It is compact JSON (nlohmann, keys sorted, no
// spaces) with a "format" member naming the document kind and version, every
// list sorted by its key, digests as lower-case hex and CIDRs normalized. The
// exact layout is documented in docs/policy.md; changing it changes every
// digest, so bump the "format" string when it changes.
//
// CanonicalDomainXml defines what the "config" measure of a VM covers: the
// libvirt domain element with comments and processing instructions dropped,
// whitespace-only text dropped and other text trimmed, attributes sorted by
// name and escaped (&amp; &lt; &gt; &quot;), children in document order, and
// without the TVD metadata element (nor the xmlns declarations that bind the
// TVD namespace, nor <metadata> itself when nothing else is in it).
#pragma once

#include <string>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/vm_config.h"
#include "tvd/sha256.h"

namespace tinyxml2 {
class XMLElement;
}

namespace tvd::policy {

inline constexpr char kTvdPolicyFormat[] = "tvd-policy/1";
inline constexpr char kHostRequirementsFormat[] = "tvd-host-requirements/1";
inline constexpr char kVmConfigFormat[] = "tvd-vm-config/1";

// JSON text; indent < 0 gives the compact canonical form, indent >= 0 a
// readable form of the same content.
std::string ToJson(const TvdPolicy& policy, int indent = -1);
std::string ToJson(const HostRequirements& requirements, int indent = -1);
std::string ToJson(const VmConfig& vm, int indent = -1);

// SHA-256 of ToJson(x) (compact).
Sha256Digest CanonicalDigest(const TvdPolicy& policy);
Sha256Digest CanonicalDigest(const HostRequirements& requirements);
Sha256Digest CanonicalDigest(const VmConfig& vm);

// See the file comment. `tvd_metadata` is the element to leave out (may be
// null). Recursion depth is bounded by the loader's depth cap.
std::string CanonicalDomainXml(const tinyxml2::XMLElement& domain,
                               const tinyxml2::XMLElement* tvd_metadata);

}  // namespace tvd::policy
