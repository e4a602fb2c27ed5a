// Internal to libvirt-filter: reading a tenant's domain XML the one way,
// shared by the confinement (domain_xml.cc) and the relay's edits
// (domain_xml_edit.cc), so both see the same document and the same
// namespaces.
#pragma once

#include <tinyxml2.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "tvd/policy/xml_reader.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter::internal {

// The document, loaded with tvd::policy::ParseXml (size, depth, UTF-8,
// no DOCTYPE); InvalidArgument when it does not parse or its root is not
// <domain>.
inline StatusOr<std::unique_ptr<tinyxml2::XMLDocument>> LoadDomain(
    std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<tinyxml2::XMLDocument> doc,
                       tvd::policy::ParseXml(xml, "domain XML"));
  const tinyxml2::XMLElement* root = doc->RootElement();
  if (root == nullptr || std::strcmp(root->Name(), "domain") != 0) {
    return InvalidArgument("domain XML: root element is not <domain>");
  }
  return doc;
}

// "qemu" of "qemu:commandline"; empty without a prefix.
inline std::string_view Prefix(std::string_view name) {
  std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? std::string_view()
                                         : name.substr(0, colon);
}

// "commandline" of "qemu:commandline".
inline std::string_view LocalName(std::string_view name) {
  std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The namespace URI `element`'s prefix is bound to, looking up the tree.
inline std::string NamespaceOf(const tinyxml2::XMLElement* element) {
  std::string_view prefix = Prefix(element->Name());
  std::string attr = prefix.empty() ? "xmlns" : "xmlns:" + std::string(prefix);
  for (const tinyxml2::XMLElement* e = element; e != nullptr;
       e = e->Parent() != nullptr ? e->Parent()->ToElement() : nullptr) {
    if (const char* uri = e->Attribute(attr.c_str())) return uri;
  }
  return "";
}

}  // namespace tvd::libvirt_filter::internal
