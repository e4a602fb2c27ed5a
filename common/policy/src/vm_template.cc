#include "tvd/policy/vm_template.h"

#include <tinyxml2.h>

#include <cstdio>

#include "parse_parts.h"
#include "tvd/policy/values.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/policy/xml_reader.h"
#include "tvd/secure_bytes.h"

namespace tvd::policy {

namespace {

using internal::Quote;

std::string RandomUuid() {
  SecureBytes b = SecureBytes::Random(16);
  std::uint8_t* d = b.data();
  d[6] = static_cast<std::uint8_t>((d[6] & 0x0F) | 0x40);  // version 4
  d[8] = static_cast<std::uint8_t>((d[8] & 0x3F) | 0x80);  // RFC 4122 variant
  const std::string hex = ToHex(b.view());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) +
         "-" + hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string Print(const tinyxml2::XMLDocument& doc) {
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return std::string(printer.CStr(),
                     static_cast<std::size_t>(printer.CStrSize() - 1));
}

// The first child element `name` of `parent`, created at the end if absent.
tinyxml2::XMLElement* ChildOrNew(tinyxml2::XMLElement& parent,
                                 const char* name) {
  if (auto* e = parent.FirstChildElement(name); e != nullptr) return e;
  auto* e = parent.GetDocument()->NewElement(name);
  parent.InsertEndChild(e);
  return e;
}

void SetText(tinyxml2::XMLElement& parent, const char* name,
             const std::string& text) {
  ChildOrNew(parent, name)->SetText(text.c_str());
}

tinyxml2::XMLElement* FindDisk(tinyxml2::XMLElement& domain,
                               std::string_view target) {
  tinyxml2::XMLElement* devices = domain.FirstChildElement("devices");
  if (devices == nullptr) return nullptr;
  for (auto* d = devices->FirstChildElement("disk"); d != nullptr;
       d = d->NextSiblingElement("disk")) {
    const auto* t = d->FirstChildElement("target");
    if (t != nullptr && t->Attribute("dev") != nullptr &&
        target == t->Attribute("dev")) {
      return d;
    }
  }
  return nullptr;
}

Status ApplyParams(tinyxml2::XMLElement& domain, tinyxml2::XMLElement& tvd,
                   const std::string& prefix, const DeriveParams& p) {
  if (!IsVmName(p.name)) {
    return InvalidArgument(
        "--name: must be a VM name "
        "([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), got " +
        Quote(p.name));
  }
  SetText(domain, "name", p.name);
  if (p.uuid && !IsUuid(*p.uuid)) {
    return InvalidArgument(
        "--uuid: must be a UUID (8-4-4-4-12 hex digits), "
        "got " +
        Quote(*p.uuid));
  }
  if (domain.FirstChildElement("uuid") == nullptr) {
    // libvirt's usual place for it: right after <name>.
    domain.InsertAfterChild(domain.FirstChildElement("name"),
                            domain.GetDocument()->NewElement("uuid"));
  }
  SetText(domain, "uuid", p.uuid ? *p.uuid : RandomUuid());

  for (const auto& [option, path] : {std::make_pair("kernel", p.kernel_path),
                                     std::make_pair("initrd", p.initrd_path)}) {
    if (!path) continue;
    if (!IsAbsolutePath(*path)) {
      return InvalidArgument(std::string("--") + option +
                             ": must be an absolute path, got " + Quote(*path));
    }
    SetText(*ChildOrNew(domain, "os"), option, *path);
  }

  for (const auto& [target, path] : p.disks) {
    if (!IsAbsolutePath(path)) {
      return InvalidArgument("--disk " + target +
                             ": must be an absolute path, got " + Quote(path));
    }
    tinyxml2::XMLElement* disk = FindDisk(domain, target);
    if (disk == nullptr) {
      return InvalidArgument("--disk " + target +
                             ": the template has no disk with target " +
                             Quote(target));
    }
    disk->SetAttribute("type", "file");
    if (auto* old = disk->FirstChildElement("source"); old != nullptr) {
      disk->DeleteChild(old);
    }
    auto* source = disk->GetDocument()->NewElement("source");
    source->SetAttribute("file", path.c_str());
    disk->InsertFirstChild(source);
  }

  const std::string vnet_name = prefix.empty() ? "vnet" : prefix + ":vnet";
  for (const auto& [target, network] : p.networks) {
    if (!IsTvdName(network)) {
      return InvalidArgument("--net " + target +
                             ": must be a network name "
                             "([a-z][a-z0-9-]{0,30}), got " +
                             Quote(network));
    }
    tinyxml2::XMLElement* vnet = nullptr;
    for (auto* v = tvd.FirstChildElement(vnet_name.c_str()); v != nullptr;
         v = v->NextSiblingElement(vnet_name.c_str())) {
      if (v->Attribute("target") != nullptr &&
          target == v->Attribute("target")) {
        vnet = v;
      }
    }
    if (vnet == nullptr) {
      return InvalidArgument("--net " + target + ": the template has no vnet " +
                             Quote(target));
    }
    vnet->SetAttribute("network", network.c_str());
  }
  for (auto* v = tvd.FirstChildElement(vnet_name.c_str()); v != nullptr;
       v = v->NextSiblingElement(vnet_name.c_str())) {
    if (v->Attribute("network") == nullptr) {
      const std::string target =
          v->Attribute("target") ? v->Attribute("target") : "";
      return InvalidArgument("vnet " + Quote(target) +
                             " has no network; give --net " + target +
                             "=NETWORK");
    }
  }
  return Status::Ok();
}

StatusOr<Sha256Digest> MeasureOf(const tinyxml2::XMLElement& m,
                                 const VmConfig& vm, const FileHasher& hasher) {
  const std::string_view type = m.Attribute("type");
  std::optional<std::string> path;
  std::string hint;
  if (type == "config") return vm.ConfigDigest();
  if (type == "kernel" || type == "initrd") {
    path = type == "kernel" ? vm.kernel_path : vm.initrd_path;
    hint = "give --" + std::string(type) + " PATH";
  } else {
    const std::string target = m.Attribute("target");
    if (const DomainDisk* d = vm.FindDisk(target); d != nullptr) {
      path = d->source_file;
    }
    hint = "give --disk " + target + "=PATH";
  }
  const std::string what =
      "measure '" + std::string(type) +
      (type == "disk" ? "' target '" + std::string(m.Attribute("target"))
                      : "") +
      "'";
  if (!path) return InvalidArgument(what + ": no image path; " + hint);
  auto digest = hasher(*path);
  if (!digest.ok()) return digest.status().WithContext(what);
  return *digest;
}

}  // namespace

StatusOr<DerivedVm> DeriveVm(std::string_view template_xml,
                             std::string_view source,
                             const DeriveParams& params,
                             const FileHasher& hasher) {
  // Validate the template as such first, so its errors carry its lines.
  TVD_RETURN_IF_ERROR(
      ParseVmConfig(template_xml, source, VmConfigMode::kTemplateAllowed)
          .status());
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(template_xml, source));
  tinyxml2::XMLElement* domain = doc->RootElement();
  std::string prefix;
  auto* tvd = const_cast<tinyxml2::XMLElement*>(
      internal::FindTvdMetadata(*domain, &prefix));
  if (tvd == nullptr) return Internal("template lost its TVD metadata");
  TVD_RETURN_IF_ERROR(ApplyParams(*domain, *tvd, prefix, params));
  // The template's leading comments describe the template, not the result.
  for (tinyxml2::XMLNode* n = doc->FirstChild(); n != nullptr && n != domain;) {
    tinyxml2::XMLNode* next = n->NextSibling();
    if (n->ToComment() != nullptr) doc->DeleteNode(n);
    n = next;
  }
  tinyxml2::XMLComment* note =
      doc->NewComment((" VM configuration derived from " + std::string(source) +
                       " by 'tvdctl policy derive'. ")
                          .c_str());
  if (doc->FirstChild() != nullptr && doc->FirstChild()->ToDeclaration()) {
    doc->InsertAfterChild(doc->FirstChild(), note);
  } else {
    doc->InsertFirstChild(note);
  }

  const std::string derived_source = std::string(source) + " (derived)";
  TVD_ASSIGN_OR_RETURN(VmConfig filled,
                       ParseVmConfig(Print(*doc), derived_source,
                                     VmConfigMode::kTemplateAllowed));
  const std::string measure_name =
      prefix.empty() ? "measure" : prefix + ":measure";
  for (auto* m = tvd->FirstChildElement(measure_name.c_str()); m != nullptr;
       m = m->NextSiblingElement(measure_name.c_str())) {
    TVD_ASSIGN_OR_RETURN(Sha256Digest d, MeasureOf(*m, filled, hasher));
    m->SetAttribute("sha256", ToHex(d).c_str());
  }
  DerivedVm out;
  out.xml = Print(*doc);
  TVD_ASSIGN_OR_RETURN(
      out.config, ParseVmConfig(out.xml, derived_source, VmConfigMode::kFinal));
  return out;
}

}  // namespace tvd::policy
