#include "parse_parts.h"

#include "tvd/policy/policy_error.h"
#include "tvd/policy/values.h"

namespace tvd::policy::internal {

StatusOr<Sha256Digest> ReadDigest(const ElementReader& r,
                                  std::string_view attr) {
  TVD_ASSIGN_OR_RETURN(std::string hex, r.Required(attr));
  auto digest = Sha256FromHex(hex);
  if (!digest.ok()) {
    return r.AttrError(attr, "attribute '" + std::string(attr) +
                                 "' must be 64 hex digits, got " + Quote(hex));
  }
  return *digest;
}

StatusOr<const tinyxml2::XMLElement*> PolicyRoot(
    const tinyxml2::XMLDocument& doc, std::string_view file,
    std::string_view expected) {
  const tinyxml2::XMLElement* root = doc.RootElement();
  ElementReader r(*root, file);
  if (r.name() != expected) {
    return PolicyError(file, r.line(),
                       "root element is <" + std::string(r.name()) +
                           ">, expected <" + std::string(expected) + ">");
  }
  TVD_ASSIGN_OR_RETURN(std::string ns, r.Required("xmlns"));
  if (ns != kPolicyNamespace) {
    return r.AttrError("xmlns", std::string("attribute 'xmlns' must be '") +
                                    kPolicyNamespace + "', got " + Quote(ns));
  }
  return root;
}

StatusOr<Measurement> ReadMeasure(const ElementReader& r, bool require_digest) {
  TVD_RETURN_IF_ERROR(r.AllowOnly({"type", "target", "sha256"}));
  TVD_RETURN_IF_ERROR(r.Empty());
  Measurement m;
  TVD_ASSIGN_OR_RETURN(std::string type, r.Required("type"));
  if (type == "config") {
    m.type = MeasureType::kConfig;
  } else if (type == "kernel") {
    m.type = MeasureType::kKernel;
  } else if (type == "initrd") {
    m.type = MeasureType::kInitrd;
  } else if (type == "disk") {
    m.type = MeasureType::kDisk;
  } else {
    return r.AttrError("type",
                       "attribute 'type' must be one of config, kernel, "
                       "initrd, disk, got " +
                           Quote(type));
  }
  std::optional<std::string> target = r.Optional("target");
  if (m.type == MeasureType::kDisk) {
    if (!target) {
      return r.Error(
          "missing required attribute 'target' (required for type 'disk')");
    }
    if (!IsDiskTarget(*target)) {
      return r.AttrError("target",
                         "attribute 'target' must be a disk target like "
                         "'vda', got " +
                             Quote(*target));
    }
    m.target = *target;
  } else if (target) {
    return r.AttrError("target",
                       "attribute 'target' is only allowed for type 'disk'");
  }
  if (r.Optional("sha256") || require_digest) {
    TVD_ASSIGN_OR_RETURN(m.sha256, ReadDigest(r, "sha256"));
  }
  return m;
}

Status AddMeasure(const ElementReader& r, Measurement m,
                  std::vector<Measurement>& list,
                  std::map<std::string, int>& first_lines) {
  std::string key(MeasureTypeName(m.type));
  std::string shown = "'" + key + "'";
  if (!m.target.empty()) {
    key += "/" + m.target;
    shown += " target '" + m.target + "'";
  }
  auto [it, fresh] = first_lines.emplace(key, r.line());
  if (!fresh) {
    return r.Error("duplicate measure " + shown + " (first at line " +
                   std::to_string(it->second) + ")");
  }
  list.push_back(std::move(m));
  return Status::Ok();
}

}  // namespace tvd::policy::internal
