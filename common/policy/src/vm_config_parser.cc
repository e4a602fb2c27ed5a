#include "tvd/policy/vm_config_parser.h"

#include <tinyxml2.h>

#include <map>
#include <set>

#include "parse_parts.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/policy_error.h"
#include "tvd/policy/values.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

bool VmConfig::IsTemplate() const {
  for (const Measurement& m : tvd.measures) {
    if (!m.sha256) return true;
  }
  for (const VnetBinding& v : tvd.vnets) {
    if (!v.network) return true;
  }
  return false;
}

Sha256Digest VmConfig::ConfigDigest() const { return Sha256(canonical_domain); }

const DomainDisk* VmConfig::FindDisk(std::string_view target) const {
  for (const DomainDisk& d : disks) {
    if (d.target == target) return &d;
  }
  return nullptr;
}

const Measurement* VmConfig::FindMeasure(MeasureType type,
                                         std::string_view target) const {
  for (const Measurement& m : tvd.measures) {
    if (m.type == type && m.target == target) return &m;
  }
  return nullptr;
}

namespace {

using internal::ElementReader;
using internal::Quote;

// 16 TiB: qcow2's practical limit here, and far above any test disk.
constexpr std::uint64_t kMaxCreateMib = 16ull * 1024 * 1024;

constexpr char kTemplateHint[] =
    " (a template; fill it with 'tvdctl policy derive')";

// Where each metadata entry was, for the final-mode checks.
struct MetadataLines {
  std::vector<int> measures;
  std::vector<int> encryptions;
  std::vector<int> vnets;
};

// The in-scope URI of `prefix` ("" = default namespace) at `e`.
std::string_view NamespaceOf(const tinyxml2::XMLElement* e,
                             std::string_view prefix) {
  const std::string attr =
      prefix.empty() ? "xmlns" : "xmlns:" + std::string(prefix);
  for (; e != nullptr; e = e->Parent() ? e->Parent()->ToElement() : nullptr) {
    if (const char* v = e->Attribute(attr.c_str()); v != nullptr) return v;
  }
  return {};
}

std::pair<std::string_view, std::string_view> SplitName(std::string_view n) {
  const std::size_t colon = n.find(':');
  if (colon == std::string_view::npos) return {{}, n};
  return {n.substr(0, colon), n.substr(colon + 1)};
}

class VmConfigReader {
 public:
  VmConfigReader(std::string_view file, VmConfigMode mode)
      : file_(file), mode_(mode) {}

  StatusOr<VmConfig> Read(const tinyxml2::XMLDocument& doc) {
    const tinyxml2::XMLElement* root = doc.RootElement();
    ElementReader r(*root, file_);
    if (r.name() != "domain") {
      return PolicyError(
          file_, r.line(),
          "root element is <" + std::string(r.name()) + ">, expected <domain>");
    }
    TVD_ASSIGN_OR_RETURN(std::string type, r.Required("type"));
    if (type.empty()) return r.AttrError("type", "attribute 'type' is empty");

    std::map<std::string, int> singles;
    const tinyxml2::XMLElement* metadata = nullptr;
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
          ElementReader c(e, file_);
          const std::string_view n = c.name();
          if (n == "owner" || n == "security") {
            return c.Error(
                "figure-15 element; convert the file with 'tvdctl policy "
                "import-fig15'");
          }
          if (n == "name" || n == "uuid" || n == "os" || n == "devices" ||
              n == "metadata") {
            auto [it, fresh] = singles.emplace(std::string(n), c.line());
            if (!fresh) return r.DuplicateChild(e, it->second);
          }
          if (n == "name") return Name(c);
          if (n == "uuid") return Uuid(c);
          if (n == "os") return Os(c);
          if (n == "devices") return Devices(c);
          if (n == "metadata") metadata = &e;
          return Status::Ok();  // libvirt's business
        }));
    if (!singles.count("name")) return r.MissingChild("name");
    if (metadata == nullptr) {
      return r.Error(std::string("missing required element <metadata> with "
                                 "the TVD settings <tvd:tvd xmlns:tvd=\"") +
                     kVmNamespace + "\">");
    }
    TVD_RETURN_IF_ERROR(Metadata(ElementReader(*metadata, file_)));
    vm_.canonical_domain = CanonicalDomainXml(*root, tvd_element_);
    if (mode_ == VmConfigMode::kFinal) TVD_RETURN_IF_ERROR(CheckFinal());
    return std::move(vm_);
  }

 private:
  Status Name(const ElementReader& r) {
    TVD_ASSIGN_OR_RETURN(vm_.name, r.Text());
    if (!IsVmName(vm_.name)) {
      return r.Error(
          "must be a VM name ([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), "
          "got " +
          Quote(vm_.name));
    }
    return Status::Ok();
  }

  Status Uuid(const ElementReader& r) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, r.Text());
    if (!IsUuid(uuid)) {
      return r.Error("must be a UUID (8-4-4-4-12 hex digits), got " +
                     Quote(uuid));
    }
    vm_.uuid = std::move(uuid);
    return Status::Ok();
  }

  Status Os(const ElementReader& r) {
    std::map<std::string, int> seen;
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() != "kernel" && c.name() != "initrd") return Status::Ok();
      auto [it, fresh] = seen.emplace(std::string(c.name()), c.line());
      if (!fresh) return r.DuplicateChild(e, it->second);
      TVD_ASSIGN_OR_RETURN(std::string path, c.Text());
      if (!IsAbsolutePath(path)) {
        return c.Error("must be an absolute path, got " + Quote(path));
      }
      (c.name() == "kernel" ? vm_.kernel_path : vm_.initrd_path) =
          std::move(path);
      return Status::Ok();
    });
  }

  Status Devices(const ElementReader& r) {
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() == "disk") return Disk(c);
      if (c.name() == "interface") return Interface(c);
      return Status::Ok();
    });
  }

  Status Disk(const ElementReader& r) {
    DomainDisk disk;
    int target_line = 0;
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
          ElementReader c(e, file_);
          if (c.name() == "target") {
            if (target_line != 0) return r.DuplicateChild(e, target_line);
            target_line = c.line();
            TVD_ASSIGN_OR_RETURN(disk.target, c.Required("dev"));
            if (!IsDiskTarget(disk.target)) {
              return c.AttrError("dev",
                                 "attribute 'dev' must be a disk target like "
                                 "'vda', got " +
                                     Quote(disk.target));
            }
          } else if (c.name() == "source") {
            if (auto file = c.Optional("file")) {
              if (!IsAbsolutePath(*file)) {
                return c.AttrError("file",
                                   "attribute 'file' must be an absolute "
                                   "path, got " +
                                       Quote(*file));
              }
              disk.source_file = std::move(file);
            }
          }
          return Status::Ok();
        }));
    if (target_line == 0) return r.MissingChild("target");
    auto [it, fresh] = disk_lines_.emplace(disk.target, target_line);
    if (!fresh) {
      return PolicyError(file_, target_line,
                         "<target>: duplicate disk target " +
                             Quote(disk.target) + " (first at line " +
                             std::to_string(it->second) + ")");
    }
    vm_.disks.push_back(std::move(disk));
    return Status::Ok();
  }

  Status Interface(const ElementReader& r) {
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() != "target") return Status::Ok();
      TVD_ASSIGN_OR_RETURN(std::string dev, c.Required("dev"));
      if (!IsInterfaceName(dev)) {
        return c.AttrError("dev",
                           "attribute 'dev' must be an interface name "
                           "(at most 15 of [A-Za-z0-9_.-]), got " +
                               Quote(dev));
      }
      auto [it, fresh] = interface_lines_.emplace(dev, c.line());
      if (!fresh) {
        return c.Error("duplicate interface target " + Quote(dev) +
                       " (first at line " + std::to_string(it->second) + ")");
      }
      vm_.interface_targets.push_back(std::move(dev));
      return Status::Ok();
    });
  }

  Status Metadata(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
          auto [prefix, local] = SplitName(e.Name());
          if (local != "tvd" || NamespaceOf(&e, prefix) != kVmNamespace) {
            return Status::Ok();  // another application's metadata
          }
          if (tvd_element_ != nullptr) {
            return r.DuplicateChild(e, tvd_element_->GetLineNum());
          }
          tvd_element_ = &e;
          prefix_ = std::string(prefix);
          return TvdSettings(ElementReader(e, file_));
        }));
    if (tvd_element_ == nullptr) {
      return r.Error(std::string("missing required element <tvd:tvd "
                                 "xmlns:tvd=\"") +
                     kVmNamespace + "\">");
    }
    return Status::Ok();
  }

  std::string Prefixed(std::string_view local) const {
    return prefix_.empty() ? std::string(local)
                           : prefix_ + ":" + std::string(local);
  }

  Status TvdSettings(const ElementReader& r) {
    // Namespace declarations are allowed here; they were resolved above.
    for (const tinyxml2::XMLAttribute* a = r.element().FirstAttribute();
         a != nullptr; a = a->Next()) {
      const std::string_view n = a->Name();
      if (n != "owner" && n != "xmlns" && !n.starts_with("xmlns:")) {
        return r.AttrError(n, "unknown attribute " + Quote(n));
      }
    }
    TVD_ASSIGN_OR_RETURN(vm_.tvd.owner, r.Required("owner"));
    if (!IsTvdName(vm_.tvd.owner)) {
      return r.AttrError("owner",
                         "attribute 'owner' must be a TVD name "
                         "([a-z][a-z0-9-]{0,30}), got " +
                             Quote(vm_.tvd.owner));
    }
    std::map<std::string, int> measure_lines;
    std::map<std::string, int> encryption_lines;
    std::map<std::string, int> vnet_lines;
    int vtpm_line = 0;
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() == Prefixed("measure")) {
        TVD_ASSIGN_OR_RETURN(Measurement m, internal::ReadMeasure(c, false));
        TVD_RETURN_IF_ERROR(internal::AddMeasure(
            c, std::move(m), vm_.tvd.measures, measure_lines));
        lines_.measures.push_back(c.line());
        return Status::Ok();
      }
      if (c.name() == Prefixed("encryption")) {
        TVD_RETURN_IF_ERROR(c.AllowOnly({"type", "target", "create-mib"}));
        TVD_RETURN_IF_ERROR(c.Empty());
        TVD_ASSIGN_OR_RETURN(std::string type, c.Required("type"));
        if (type != "disk") {
          return c.AttrError(
              "type", "attribute 'type' must be 'disk', got " + Quote(type));
        }
        TVD_ASSIGN_OR_RETURN(std::string target, c.Required("target"));
        if (!IsDiskTarget(target)) {
          return c.AttrError("target",
                             "attribute 'target' must be a disk target like "
                             "'vda', got " +
                                 Quote(target));
        }
        if (auto [it, fresh] = encryption_lines.emplace(target, c.line());
            !fresh) {
          return c.Error("duplicate encryption of disk " + Quote(target) +
                         " (first at line " + std::to_string(it->second) + ")");
        }
        if (std::optional<std::string> size = c.Optional("create-mib")) {
          std::optional<std::uint64_t> mib =
              ParseDecimal(*size, 1, kMaxCreateMib);
          if (!mib) {
            return c.AttrError(
                "create-mib",
                "attribute 'create-mib' must be a whole number of MiB from 1 "
                "to " +
                    std::to_string(kMaxCreateMib) + ", got " + Quote(*size));
          }
          vm_.tvd.encrypted_disk_create_mib[target] = *mib;
        }
        vm_.tvd.encrypted_disks.push_back(std::move(target));
        lines_.encryptions.push_back(c.line());
        return Status::Ok();
      }
      if (c.name() == Prefixed("vtpm")) {
        TVD_RETURN_IF_ERROR(c.AllowOnly({}));
        TVD_RETURN_IF_ERROR(c.Empty());
        if (vtpm_line != 0) {
          return c.Error("duplicate vtpm (first at line " +
                         std::to_string(vtpm_line) + ")");
        }
        vtpm_line = c.line();
        vm_.tvd.vtpm = true;
        return Status::Ok();
      }
      if (c.name() == Prefixed("vnet")) {
        TVD_RETURN_IF_ERROR(c.AllowOnly({"target", "network"}));
        TVD_RETURN_IF_ERROR(c.Empty());
        VnetBinding v;
        TVD_ASSIGN_OR_RETURN(v.target, c.Required("target"));
        if (!IsInterfaceName(v.target)) {
          return c.AttrError("target",
                             "attribute 'target' must be an interface name "
                             "(at most 15 of [A-Za-z0-9_.-]), got " +
                                 Quote(v.target));
        }
        v.network = c.Optional("network");
        if (v.network && !IsTvdName(*v.network)) {
          return c.AttrError("network",
                             "attribute 'network' must be a network name "
                             "([a-z][a-z0-9-]{0,30}), got " +
                                 Quote(*v.network));
        }
        if (auto [it, fresh] = vnet_lines.emplace(v.target, c.line()); !fresh) {
          return c.Error("duplicate vnet " + Quote(v.target) +
                         " (first at line " + std::to_string(it->second) + ")");
        }
        vm_.tvd.vnets.push_back(std::move(v));
        lines_.vnets.push_back(c.line());
        return Status::Ok();
      }
      return r.UnknownChild(e);
    });
  }

  Status FinalError(int line, std::string_view element,
                    std::string_view message) const {
    return PolicyError(file_, line,
                       "<" + Prefixed(element) + ">: " + std::string(message));
  }

  Status CheckFinal() const {
    for (std::size_t i = 0; i < vm_.tvd.measures.size(); ++i) {
      const Measurement& m = vm_.tvd.measures[i];
      const int line = lines_.measures[i];
      const std::string type(MeasureTypeName(m.type));
      if (!m.sha256) {
        return FinalError(
            line, "measure",
            "missing sha256 for type '" + type + "'" + kTemplateHint);
      }
      switch (m.type) {
        case MeasureType::kConfig:
          if (*m.sha256 != vm_.ConfigDigest()) {
            return FinalError(line, "measure",
                              "config sha256 does not match the domain "
                              "configuration (its canonical form hashes to " +
                                  ToHex(vm_.ConfigDigest()) + ")");
          }
          break;
        case MeasureType::kKernel:
        case MeasureType::kInitrd:
          if (!(m.type == MeasureType::kKernel ? vm_.kernel_path
                                               : vm_.initrd_path)) {
            return FinalError(line, "measure",
                              "type '" + type +
                                  "' is measured but the domain has no <os><" +
                                  type + ">");
          }
          break;
        case MeasureType::kDisk:
          if (vm_.FindDisk(m.target) == nullptr) {
            return FinalError(line, "measure",
                              "disk target " + Quote(m.target) +
                                  " is not a disk of the domain");
          }
          break;
      }
    }
    for (std::size_t i = 0; i < vm_.tvd.encrypted_disks.size(); ++i) {
      if (vm_.FindDisk(vm_.tvd.encrypted_disks[i]) == nullptr) {
        return FinalError(lines_.encryptions[i], "encryption",
                          "disk target " + Quote(vm_.tvd.encrypted_disks[i]) +
                              " is not a disk of the domain");
      }
    }
    for (std::size_t i = 0; i < vm_.tvd.vnets.size(); ++i) {
      const VnetBinding& v = vm_.tvd.vnets[i];
      if (!v.network) {
        return FinalError(
            lines_.vnets[i], "vnet",
            "missing network for " + Quote(v.target) + kTemplateHint);
      }
      if (!interface_lines_.count(v.target)) {
        return FinalError(lines_.vnets[i], "vnet",
                          "target " + Quote(v.target) +
                              " is not an interface target of the domain");
      }
    }
    return Status::Ok();
  }

  std::string_view file_;
  VmConfigMode mode_;
  VmConfig vm_;
  const tinyxml2::XMLElement* tvd_element_ = nullptr;
  std::string prefix_;
  MetadataLines lines_;
  std::map<std::string, int> disk_lines_;
  std::map<std::string, int> interface_lines_;
};

}  // namespace

namespace internal {

const tinyxml2::XMLElement* FindTvdMetadata(const tinyxml2::XMLElement& domain,
                                            std::string* prefix) {
  const tinyxml2::XMLElement* metadata = domain.FirstChildElement("metadata");
  if (metadata == nullptr) return nullptr;
  for (const tinyxml2::XMLElement* e = metadata->FirstChildElement();
       e != nullptr; e = e->NextSiblingElement()) {
    auto [p, local] = SplitName(e->Name());
    if (local == "tvd" && NamespaceOf(e, p) == kVmNamespace) {
      *prefix = std::string(p);
      return e;
    }
  }
  return nullptr;
}

}  // namespace internal

StatusOr<VmConfig> ReadVmConfig(const tinyxml2::XMLDocument& doc,
                                std::string_view source, VmConfigMode mode) {
  return VmConfigReader(source, mode).Read(doc);
}

StatusOr<VmConfig> ParseVmConfig(std::string_view xml, std::string_view source,
                                 VmConfigMode mode) {
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(xml, source));
  return ReadVmConfig(*doc, source, mode);
}

StatusOr<VmConfig> LoadVmConfigFile(const std::string& path,
                                    VmConfigMode mode) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadPolicyFile(path));
  return ParseVmConfig(text, path, mode);
}

}  // namespace tvd::policy
