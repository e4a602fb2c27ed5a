#include "tvd/policy/policy_file.h"

#include <tinyxml2.h>

#include "tvd/policy/canonical.h"
#include "tvd/policy/host_requirements_parser.h"
#include "tvd/policy/policy_error.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

StatusOr<AnyPolicy> ParseAnyPolicy(std::string_view xml,
                                   std::string_view source,
                                   VmConfigMode vm_mode) {
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(xml, source));
  const tinyxml2::XMLElement* root = doc->RootElement();
  const std::string_view name = root->Name();
  if (name == "tvd-policy") {
    TVD_ASSIGN_OR_RETURN(TvdPolicy p, ReadTvdPolicy(*doc, source));
    return AnyPolicy(std::move(p));
  }
  if (name == "host-requirements") {
    TVD_ASSIGN_OR_RETURN(HostRequirements h,
                         ReadHostRequirements(*doc, source));
    return AnyPolicy(std::move(h));
  }
  if (name == "domain") {
    TVD_ASSIGN_OR_RETURN(VmConfig v, ReadVmConfig(*doc, source, vm_mode));
    return AnyPolicy(std::move(v));
  }
  return PolicyError(source, root->GetLineNum(),
                     "root element is <" + std::string(name) +
                         ">, expected <tvd-policy>, <host-requirements> or "
                         "<domain>");
}

StatusOr<AnyPolicy> LoadAnyPolicyFile(const std::string& path,
                                      VmConfigMode vm_mode) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadPolicyFile(path));
  return ParseAnyPolicy(text, path, vm_mode);
}

std::string_view DescribeKind(const AnyPolicy& policy) {
  if (std::holds_alternative<TvdPolicy>(policy)) return "TVD policy";
  if (std::holds_alternative<HostRequirements>(policy)) {
    return "host requirements";
  }
  return std::get<VmConfig>(policy).IsTemplate() ? "VM template"
                                                 : "VM configuration";
}

std::string ToJson(const AnyPolicy& policy, int indent) {
  return std::visit([indent](const auto& p) { return ToJson(p, indent); },
                    policy);
}

Sha256Digest CanonicalDigest(const AnyPolicy& policy) {
  return std::visit([](const auto& p) { return CanonicalDigest(p); }, policy);
}

}  // namespace tvd::policy
