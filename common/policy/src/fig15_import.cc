#include "tvd/policy/fig15_import.h"

#include <tinyxml2.h>

#include "element_reader.h"
#include "tvd/policy/policy_error.h"
#include "tvd/policy/values.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

namespace {

using internal::ElementReader;
using internal::Quote;

bool IsPlaceholder(std::string_view text) {
  return text.empty() || text.find_first_not_of('.') == std::string_view::npos;
}

class Fig15Converter {
 public:
  explicit Fig15Converter(std::string_view file) : file_(file) {}

  StatusOr<Fig15Import> Convert(tinyxml2::XMLDocument& doc) {
    tinyxml2::XMLElement* domain = doc.RootElement();
    ElementReader r(*domain, file_);
    if (r.name() != "domain") {
      return PolicyError(
          file_, r.line(),
          "root element is <" + std::string(r.name()) + ">, expected <domain>");
    }
    tinyxml2::XMLElement* owner = nullptr;
    tinyxml2::XMLElement* security = nullptr;
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& ce) -> Status {
          auto& e = const_cast<tinyxml2::XMLElement&>(ce);
          const std::string_view n = e.Name();
          if (n == "owner") {
            if (owner != nullptr)
              return r.DuplicateChild(e, owner->GetLineNum());
            owner = &e;
          } else if (n == "security") {
            if (security != nullptr) {
              return r.DuplicateChild(e, security->GetLineNum());
            }
            security = &e;
          }
          return Status::Ok();
        }));
    if (owner == nullptr) return r.MissingChild("owner");
    if (security == nullptr) return r.MissingChild("security");

    tinyxml2::XMLElement* settings = doc.NewElement("tvd:tvd");
    settings->SetAttribute("xmlns:tvd", kVmNamespace);
    TVD_RETURN_IF_ERROR(Owner(ElementReader(*owner, file_), *settings));
    TVD_RETURN_IF_ERROR(Security(ElementReader(*security, file_), *settings));

    domain->DeleteChild(owner);
    domain->DeleteChild(security);
    tinyxml2::XMLElement* metadata = domain->FirstChildElement("metadata");
    if (metadata == nullptr) {
      metadata = doc.NewElement("metadata");
      domain->InsertEndChild(metadata);
    }
    metadata->InsertEndChild(settings);

    tinyxml2::XMLPrinter printer;
    doc.Print(&printer);
    Fig15Import out;
    out.xml.assign(printer.CStr(),
                   static_cast<std::size_t>(printer.CStrSize() - 1));
    TVD_ASSIGN_OR_RETURN(
        out.config, ParseVmConfig(out.xml, std::string(file_) + " (converted)",
                                  VmConfigMode::kTemplateAllowed));
    out.notes = std::move(notes_);
    return out;
  }

 private:
  static Status CheckDiskTarget(const ElementReader& c,
                                const std::string& target) {
    if (IsDiskTarget(target)) return Status::Ok();
    return c.AttrError("target",
                       "attribute 'target' must be a disk target like 'vda', "
                       "got " +
                           Quote(target));
  }

  void Note(int line, std::string_view text) {
    notes_.push_back(std::string(file_) + ":" + std::to_string(line) + ": " +
                     std::string(text));
  }

  Status Owner(const ElementReader& r, tinyxml2::XMLElement& settings) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({"type"}));
    TVD_ASSIGN_OR_RETURN(std::string type, r.Required("type"));
    if (type != "tvd") {
      return r.AttrError("type",
                         "attribute 'type' must be 'tvd', got " + Quote(type));
    }
    TVD_ASSIGN_OR_RETURN(std::string owner, r.Text());
    std::string name = owner;
    if (!IsTvdName(name)) {
      const std::size_t dot = owner.find('.');
      name = owner.substr(0, dot);
      if (dot == std::string::npos || !IsTvdName(name)) {
        return r.Error(
            "must be a TVD name or a DNS name whose first label "
            "is one, got " +
            Quote(owner));
      }
      Note(r.line(),
           "owner " + Quote(owner) + " mapped to TVD name " + Quote(name));
    }
    settings.SetAttribute("owner", name.c_str());
    return Status::Ok();
  }

  Status Security(const ElementReader& r, tinyxml2::XMLElement& settings) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({"mode"}));
    TVD_ASSIGN_OR_RETURN(std::string mode, r.Required("mode"));
    if (mode != "tvd") {
      return r.AttrError("mode",
                         "attribute 'mode' must be 'tvd', got " + Quote(mode));
    }
    tinyxml2::XMLDocument& doc = *settings.GetDocument();
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() == "measure") {
        TVD_RETURN_IF_ERROR(c.AllowOnly({"type", "name", "target"}));
        TVD_ASSIGN_OR_RETURN(std::string type, c.Required("type"));
        TVD_ASSIGN_OR_RETURN(std::string value, c.Text());
        if (type != "config" && type != "kernel" && type != "initrd" &&
            type != "disk") {
          return c.AttrError("type",
                             "attribute 'type' must be one of config, "
                             "kernel, initrd, disk, got " +
                                 Quote(type));
        }
        tinyxml2::XMLElement* m = doc.NewElement("tvd:measure");
        m->SetAttribute("type", type.c_str());
        auto target = c.Optional("target");
        if (type == "disk" && !target) {
          return c.Error(
              "missing required attribute 'target' (required for type "
              "'disk')");
        }
        if (target) {
          if (type != "disk") {
            return c.AttrError(
                "target", "attribute 'target' is only allowed for type 'disk'");
          }
          TVD_RETURN_IF_ERROR(CheckDiskTarget(c, *target));
          m->SetAttribute("target", target->c_str());
        }
        if (auto name = c.Optional("name")) {
          Note(c.line(), "measure attribute name=" + Quote(*name) +
                             " dropped (disks are identified by target)");
        }
        if (IsPlaceholder(value)) {
          Note(c.line(), "measure '" + type +
                             "' has no digest; the result is a template");
        } else if (!Sha256FromHex(value).ok()) {
          return c.Error(
              "content must be a 64-hex-digit sha256, empty or "
              "'...', got " +
              Quote(value));
        } else {
          m->SetAttribute("sha256", value.c_str());
        }
        settings.InsertEndChild(m);
        return Status::Ok();
      }
      if (c.name() == "encryption") {
        TVD_RETURN_IF_ERROR(c.AllowOnly({"type", "target"}));
        TVD_RETURN_IF_ERROR(c.Empty());
        tinyxml2::XMLElement* enc = doc.NewElement("tvd:encryption");
        TVD_ASSIGN_OR_RETURN(std::string type, c.Required("type"));
        TVD_ASSIGN_OR_RETURN(std::string target, c.Required("target"));
        if (type != "disk") {
          return c.AttrError(
              "type", "attribute 'type' must be 'disk', got " + Quote(type));
        }
        TVD_RETURN_IF_ERROR(CheckDiskTarget(c, target));
        enc->SetAttribute("type", type.c_str());
        enc->SetAttribute("target", target.c_str());
        settings.InsertEndChild(enc);
        return Status::Ok();
      }
      if (c.name() == "vnet") {
        TVD_RETURN_IF_ERROR(c.AllowOnly({"type", "target", "network"}));
        TVD_RETURN_IF_ERROR(c.Empty());
        tinyxml2::XMLElement* vnet = doc.NewElement("tvd:vnet");
        TVD_ASSIGN_OR_RETURN(std::string target, c.Required("target"));
        if (!IsInterfaceName(target)) {
          return c.AttrError("target",
                             "attribute 'target' must be an interface name "
                             "(at most 15 of [A-Za-z0-9_.-]), got " +
                                 Quote(target));
        }
        vnet->SetAttribute("target", target.c_str());
        if (auto network = c.Optional("network")) {
          if (!IsTvdName(*network)) {
            return c.AttrError("network",
                               "attribute 'network' must be a network name "
                               "([a-z][a-z0-9-]{0,30}), got " +
                                   Quote(*network));
          }
          vnet->SetAttribute("network", network->c_str());
        } else {
          Note(c.line(), "vnet " + Quote(target) +
                             " has no network; the result is a template");
        }
        if (auto type = c.Optional("type")) {
          Note(c.line(), "vnet attribute type=" + Quote(*type) +
                             " dropped (TVD networks are bound by name)");
        }
        settings.InsertEndChild(vnet);
        return Status::Ok();
      }
      return r.UnknownChild(e);
    });
  }

  std::string_view file_;
  std::vector<std::string> notes_;
};

}  // namespace

StatusOr<Fig15Import> ImportFig15(std::string_view xml,
                                  std::string_view source) {
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(xml, source));
  return Fig15Converter(source).Convert(*doc);
}

}  // namespace tvd::policy
