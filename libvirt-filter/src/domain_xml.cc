#include "tvd/libvirt_filter/domain_xml.h"

#include <tinyxml2.h>

#include <algorithm>
#include <cstring>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::libvirt_filter {

namespace {

using tinyxml2::XMLAttribute;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;

std::string_view Prefix(std::string_view name) {
  std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? std::string_view()
                                         : name.substr(0, colon);
}

std::string_view LocalName(std::string_view name) {
  std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The namespace URI `element`'s prefix is bound to, looking up the tree.
std::string NamespaceOf(const XMLElement* element) {
  std::string_view prefix = Prefix(element->Name());
  std::string attr = prefix.empty() ? "xmlns" : "xmlns:" + std::string(prefix);
  for (const XMLElement* e = element; e != nullptr;
       e = e->Parent() != nullptr ? e->Parent()->ToElement() : nullptr) {
    if (const char* uri = e->Attribute(attr.c_str())) return uri;
  }
  return "";
}

bool IsTvdElement(const XMLElement* e) {
  return LocalName(e->Name()) == "tvd" &&
         NamespaceOf(e) == tvd::policy::kVmNamespace;
}

// The TVD metadata elements directly under <metadata>.
std::vector<XMLElement*> TvdElements(XMLElement* domain) {
  std::vector<XMLElement*> out;
  for (XMLElement* metadata = domain->FirstChildElement("metadata");
       metadata != nullptr;
       metadata = metadata->NextSiblingElement("metadata")) {
    for (XMLElement* e = metadata->FirstChildElement(); e != nullptr;
         e = e->NextSiblingElement()) {
      if (IsTvdElement(e)) out.push_back(e);
    }
  }
  return out;
}

StatusOr<std::unique_ptr<XMLDocument>> LoadDomain(std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc,
                       tvd::policy::ParseXml(xml, "domain XML"));
  const XMLElement* root = doc->RootElement();
  if (root == nullptr || std::strcmp(root->Name(), "domain") != 0) {
    return InvalidArgument("domain XML: root element is not <domain>");
  }
  return doc;
}

std::string Quote(std::string_view v) {
  std::string s(v.substr(0, 80));
  return "'" + s + "'";
}

Status Denied(std::string what) { return PermissionDenied(std::move(what)); }

// Namespace declarations are allowed only inside <metadata>.
Status CheckNamespaces(const XMLElement* e, bool in_metadata) {
  bool metadata = in_metadata || std::strcmp(e->Name(), "metadata") == 0;
  if (!metadata) {
    for (const XMLAttribute* a = e->FirstAttribute(); a != nullptr;
         a = a->Next()) {
      std::string_view name = a->Name();
      if (name == "xmlns" || name.starts_with("xmlns:")) {
        return Denied("<" + std::string(e->Name()) +
                      ">: namespace declaration " + std::string(name) + "=" +
                      Quote(a->Value()) +
                      " is not allowed outside <metadata> (no driver "
                      "pass-through such as qemu:commandline)");
      }
    }
    if (!Prefix(e->Name()).empty()) {
      return Denied("<" + std::string(e->Name()) +
                    ">: namespaced elements are not allowed outside "
                    "<metadata> (no driver pass-through such as "
                    "qemu:commandline)");
    }
  }
  for (const XMLElement* c = e->FirstChildElement(); c != nullptr;
       c = c->NextSiblingElement()) {
    TVD_RETURN_IF_ERROR(CheckNamespaces(c, metadata));
  }
  return Status::Ok();
}

std::string AttrOr(const XMLElement* e, const char* name) {
  const char* v = e != nullptr ? e->Attribute(name) : nullptr;
  return v != nullptr ? v : "";
}

Status CheckDisk(const XMLElement* disk, const TenantScope& scope) {
  std::string type = AttrOr(disk, "type");
  const XMLElement* source = disk->FirstChildElement("source");
  if (type.empty()) type = "file";
  if (type != "file") {
    return Denied("<disk type=" + Quote(type) + ">: only file disks under " +
                  scope.storage_path + " are allowed");
  }
  if (source == nullptr) return Status::Ok();  // an empty CD-ROM drive
  for (const XMLAttribute* a = source->FirstAttribute(); a != nullptr;
       a = a->Next()) {
    if (std::strcmp(a->Name(), "file") != 0 &&
        std::strcmp(a->Name(), "startupPolicy") != 0 &&
        std::strcmp(a->Name(), "index") != 0) {
      return Denied("<disk><source " + std::string(a->Name()) +
                    ">: only <source file> is allowed");
    }
  }
  std::string file = AttrOr(source, "file");
  if (!file.empty() && !IsPathUnder(file, scope.storage_path)) {
    return Denied("<disk><source file=" + Quote(file) +
                  ">: disk images must lie under " + scope.storage_path + "/");
  }
  if (source->FirstChildElement() != nullptr) {
    return Denied("<disk><source>: nested elements are not allowed");
  }
  if (disk->FirstChildElement("backingStore") != nullptr &&
      disk->FirstChildElement("backingStore")->FirstChildElement() != nullptr) {
    return Denied(
        "<disk><backingStore>: explicit backing stores are not "
        "allowed");
  }
  return Status::Ok();
}

bool Contains(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

Status CheckInterface(const XMLElement* nic, const TenantScope& scope,
                      const XMLElement* tvd) {
  std::string type = AttrOr(nic, "type");
  const XMLElement* source = nic->FirstChildElement("source");
  if (type == "network") {
    std::string network = AttrOr(source, "network");
    if (!Contains(scope.networks, network)) {
      return Denied("<interface type='network'><source network=" +
                    Quote(network) + ">: not a network of TVD " + scope.tvd);
    }
    return Status::Ok();
  }
  if (type == "ethernet") {
    // libvirt creates the tap (named by <target dev>) and the proxy plugs it
    // into OVS. Only plain device settings: <script>/<downscript> would run
    // host programs, <ip>/<route> would configure the host side, and
    // <target managed='no'> would adopt an existing host device.
    for (const XMLElement* c = nic->FirstChildElement(); c != nullptr;
         c = c->NextSiblingElement()) {
      std::string_view name = c->Name();
      if (name != "mac" && name != "target" && name != "model" &&
          name != "address" && name != "alias" && name != "mtu") {
        return Denied("<interface type='ethernet'><" + std::string(name) +
                      ">: not allowed (only mac, target, model, address, "
                      "alias, mtu)");
      }
    }
    const XMLElement* target = nic->FirstChildElement("target");
    if (target != nullptr && target->Attribute("managed") != nullptr) {
      return Denied(
          "<interface type='ethernet'><target managed=...>: not allowed "
          "(libvirt must create the tap itself)");
    }
  }
  if (type == "bridge" || type == "ethernet") {
    std::string dev = AttrOr(nic->FirstChildElement("target"), "dev");
    if (tvd != nullptr && !dev.empty()) {
      for (const XMLElement* v = tvd->FirstChildElement(); v != nullptr;
           v = v->NextSiblingElement()) {
        if (LocalName(v->Name()) == "vnet" && AttrOr(v, "target") == dev) {
          std::string network = AttrOr(v, "network");
          if (Contains(scope.networks, network)) return Status::Ok();
          return Denied("<tvd:vnet target=" + Quote(dev) +
                        " network=" + Quote(network) +
                        ">: not a network of TVD " + scope.tvd);
        }
      }
    }
    return Denied("<interface type=" + Quote(type) + ">: a " +
                  (type == "bridge" ? "bridged" : "tap") +
                  " NIC needs a target dev bound by <tvd:vnet> to a "
                  "network of TVD " +
                  scope.tvd);
  }
  return Denied("<interface type=" + Quote(type) +
                ">: only NICs on the TVD's networks are allowed");
}

}  // namespace

bool IsPathUnder(std::string_view path, std::string_view root) {
  if (root.empty() || root.front() != '/' || path.size() <= root.size() + 1) {
    return false;
  }
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (!path.starts_with(root) || path[root.size()] != '/') return false;
  std::string_view rest = path.substr(root.size() + 1);
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20) return false;
    }
    if (slash == std::string_view::npos) return true;
    rest = rest.substr(slash + 1);
  }
}

StatusOr<std::string> OwnerFromDomainXml(std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  std::vector<XMLElement*> tvds = TvdElements(doc->RootElement());
  if (tvds.empty()) return std::string();
  if (tvds.size() > 1) {
    return InvalidArgument("domain XML has more than one TVD element");
  }
  return AttrOr(tvds.front(), "owner");
}

StatusOr<ConfinedDomain> ConfineDomainXml(std::string_view xml,
                                          const TenantScope& scope) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  XMLElement* domain = doc->RootElement();
  ConfinedDomain out;
  const XMLElement* name = domain->FirstChildElement("name");
  if (name == nullptr || name->GetText() == nullptr ||
      name->NextSiblingElement("name") != nullptr) {
    return InvalidArgument("domain XML: exactly one non-empty <name> needed");
  }
  out.name = name->GetText();
  if (const XMLElement* uuid = domain->FirstChildElement("uuid")) {
    const char* text = uuid->GetText();
    std::optional<Uuid> parsed =
        UuidFromString(text != nullptr ? std::string_view(text) : "");
    if (!parsed) {
      // libvirt also accepts UUIDs without dashes; the relay does not, so
      // that the UUID it checks is the one libvirt will use.
      return InvalidArgument("domain XML: <uuid> " +
                             Quote(text != nullptr ? text : "") +
                             " is not of the form 8-4-4-4-12");
    }
    out.uuid = parsed;
  }
  TVD_RETURN_IF_ERROR(CheckNamespaces(domain, false));

  std::vector<XMLElement*> tvds = TvdElements(domain);
  if (tvds.size() > 1) {
    return Denied("<metadata>: more than one TVD element");
  }
  XMLElement* tvd = tvds.empty() ? nullptr : tvds.front();

  if (const XMLElement* devices = domain->FirstChildElement("devices")) {
    for (const XMLElement* d = devices->FirstChildElement(); d != nullptr;
         d = d->NextSiblingElement()) {
      std::string_view kind = d->Name();
      if (kind == "hostdev") {
        return Denied("<hostdev>: host devices are not allowed");
      }
      if (kind == "filesystem") {
        return Denied(
            "<filesystem>: host directory pass-through is not "
            "allowed");
      }
      if (kind == "disk") TVD_RETURN_IF_ERROR(CheckDisk(d, scope));
      if (kind == "interface") {
        TVD_RETURN_IF_ERROR(CheckInterface(d, scope, tvd));
      }
    }
  }

  if (tvd == nullptr) {
    XMLElement* metadata = domain->FirstChildElement("metadata");
    if (metadata == nullptr) {
      metadata = doc->NewElement("metadata");
      domain->InsertEndChild(metadata);
    }
    tvd = doc->NewElement("tvd:tvd");
    tvd->SetAttribute("xmlns:tvd", tvd::policy::kVmNamespace);
    metadata->InsertEndChild(tvd);
  }
  tvd->SetAttribute("owner", scope.tvd.c_str());

  tinyxml2::XMLPrinter printer(nullptr, /*compact=*/false);
  doc->Print(&printer);
  out.xml = printer.CStr();
  return out;
}

}  // namespace tvd::libvirt_filter
