// Safe loading of untrusted XML into a tinyxml2 document.
//
// Policies and VM configurations come from tenants and operators, so the
// loader assumes hostile input. Before tinyxml2 sees a byte, a single
// iterative pass over the text enforces:
//   - a size cap (default 4 MiB): larger inputs are refused unread;
//   - a non-empty document;
//   - well-formed UTF-8 (no overlong forms, surrogates or code points above
//     U+10FFFF) without control characters other than tab, LF and CR;
//   - no DOCTYPE or any other "<!" declaration, so no entity definitions
//     (billion laughs, external entities) can exist;
//   - only the five predefined entity references and character references
//     to legal XML characters;
//   - an element nesting depth cap (default 32), far below anything that
//     could exhaust the stack in tinyxml2 or in this module's recursive walks;
//   - at most 64 attributes per element (tinyxml2's duplicate check is
//     quadratic in the number of attributes).
// tinyxml2 (9.x) then parses the text; its own depth limit (100) is a second
// line, checked at compile time. The document must have exactly one root
// element and no text outside it.
//
// Every failure is a PolicyError ("FILE:LINE: message", see policy_error.h).
// Nothing here throws except std::bad_alloc.
#pragma once

#include <tinyxml2.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::policy {

struct XmlLimits {
  std::size_t max_bytes = std::size_t{4} * 1024 * 1024;
  int max_depth = 32;
  // tinyxml2 checks each new attribute against all earlier ones of the same
  // element, which is quadratic; no element in our formats or in libvirt's
  // needs more than a handful.
  int max_attributes = 64;
};

// Checks `text` as described above and parses it. `source` names the input
// in error messages (a path, or "<stdin>").
StatusOr<std::unique_ptr<tinyxml2::XMLDocument>> ParseXml(
    std::string_view text, std::string_view source,
    const XmlLimits& limits = {});

// Reads the file at `path` (refusing files above limits.max_bytes before
// reading them, and anything that is not a regular file). Errors: IoError
// "PATH: <strerror>" when the file cannot be read, PolicyError for the size
// cap.
StatusOr<std::string> ReadPolicyFile(const std::string& path,
                                     const XmlLimits& limits = {});

// ReadPolicyFile + ParseXml with `path` as the source name.
StatusOr<std::unique_ptr<tinyxml2::XMLDocument>> LoadXmlFile(
    const std::string& path, const XmlLimits& limits = {});

}  // namespace tvd::policy
