#include "tvd/libvirt_filter/domain_xml_edit.h"

#include <tinyxml2.h>

#include <cstring>
#include <memory>

#include "domain_xml_names.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::libvirt_filter {

namespace {

using internal::LoadDomain;
using internal::LocalName;
using internal::NamespaceOf;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;

bool InVmNamespace(const XMLElement* e, std::string_view local) {
  return LocalName(e->Name()) == local &&
         NamespaceOf(e) == tvd::policy::kVmNamespace;
}

std::string AttrOr(const XMLElement* e, const char* name,
                   const char* fallback) {
  const char* v = e != nullptr ? e->Attribute(name) : nullptr;
  return v != nullptr ? v : fallback;
}

}  // namespace

StatusOr<std::string> WithDomainUuid(std::string_view xml,
                                     const std::optional<Uuid>& uuid) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  XMLElement* domain = doc->RootElement();
  while (XMLElement* old = domain->FirstChildElement("uuid")) {
    domain->DeleteChild(old);
  }
  if (uuid) {
    XMLElement* element = doc->NewElement("uuid");
    element->SetText(UuidToString(*uuid).c_str());
    if (XMLElement* name = domain->FirstChildElement("name")) {
      domain->InsertAfterChild(name, element);
    } else {
      domain->InsertFirstChild(element);
    }
  }
  tinyxml2::XMLPrinter printer(nullptr, /*compact=*/false);
  doc->Print(&printer);
  return std::string(printer.CStr());
}

StatusOr<std::vector<DomainDisk>> DomainDisks(std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  std::vector<DomainDisk> out;
  for (const XMLElement* devices =
           doc->RootElement()->FirstChildElement("devices");
       devices != nullptr; devices = devices->NextSiblingElement("devices")) {
    for (const XMLElement* disk = devices->FirstChildElement("disk");
         disk != nullptr; disk = disk->NextSiblingElement("disk")) {
      DomainDisk d;
      d.type = AttrOr(disk, "type", "file");
      d.device = AttrOr(disk, "device", "disk");
      const XMLElement* source = disk->FirstChildElement("source");
      d.has_source = source != nullptr;
      d.file = AttrOr(source, "file", "");
      d.format = AttrOr(disk->FirstChildElement("driver"), "type", "raw");
      out.push_back(std::move(d));
    }
  }
  return out;
}

StatusOr<bool> HasProxyAdmission(std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  for (const XMLElement* metadata =
           doc->RootElement()->FirstChildElement("metadata");
       metadata != nullptr;
       metadata = metadata->NextSiblingElement("metadata")) {
    for (const XMLElement* tvd = metadata->FirstChildElement(); tvd != nullptr;
         tvd = tvd->NextSiblingElement()) {
      if (!InVmNamespace(tvd, "tvd")) continue;
      for (const XMLElement* c = tvd->FirstChildElement(); c != nullptr;
           c = c->NextSiblingElement()) {
        // By local name alone: a child the proxy would not read as one
        // still marks the domain as the proxy's (refusing more is safe).
        std::string_view local = LocalName(c->Name());
        if (local == "measure" || local == "vnet") return true;
      }
    }
  }
  return false;
}

}  // namespace tvd::libvirt_filter
