// Strict access to one tinyxml2 element for the policy parsers (internal).
//
// Every parser reads elements through this class so that unknown attributes,
// missing attributes, stray text and unknown children are reported the same
// way everywhere, with the line of the element or attribute at fault:
//   "FILE:LINE: <network>: unknown attribute 'foo'"
//   "FILE:LINE: <network>: missing required attribute 'vni'"
//   "FILE:LINE: <networks>: unexpected text 'abc'"
//   "FILE:LINE: <networks>: unknown element <foo>"
#pragma once

#include <tinyxml2.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::policy::internal {

class ElementReader {
 public:
  ElementReader(const tinyxml2::XMLElement& element, std::string_view file)
      : element_(element), file_(file) {}

  const tinyxml2::XMLElement& element() const { return element_; }
  std::string_view file() const { return file_; }
  int line() const { return element_.GetLineNum(); }
  std::string_view name() const { return element_.Name(); }

  // "FILE:LINE: <name>: message" at the element's line.
  Status Error(std::string_view message) const;
  // The same at the line of attribute `attr` (the element's if absent).
  Status AttrError(std::string_view attr, std::string_view message) const;

  // Fails on the first attribute whose name is not in `allowed`.
  Status AllowOnly(std::initializer_list<std::string_view> allowed) const;

  StatusOr<std::string> Required(std::string_view attr) const;
  std::optional<std::string> Optional(std::string_view attr) const;

  // Visits child elements in document order; comments are skipped and any
  // non-whitespace text is an error.
  Status ForEachChild(
      const std::function<Status(const tinyxml2::XMLElement&)>& visit) const;

  // The standard error for a child that `visit` does not know.
  Status UnknownChild(const tinyxml2::XMLElement& child) const;
  // The standard error for a second occurrence of a single-valued child.
  Status DuplicateChild(const tinyxml2::XMLElement& child,
                        int first_line) const;
  // The standard error for a required child that is absent.
  Status MissingChild(std::string_view child_name) const;

  // Fails if the element has any children or text.
  Status Empty() const;

  // Text content with surrounding whitespace removed; child elements are an
  // error. Used only by the figure-15 import and the libvirt body checks.
  StatusOr<std::string> Text() const;

 private:
  const tinyxml2::XMLElement& element_;
  std::string_view file_;
};

// "'abc'" with the value shortened to 40 characters and control characters
// escaped, so hostile values cannot flood or corrupt error output.
std::string Quote(std::string_view value);

}  // namespace tvd::policy::internal
