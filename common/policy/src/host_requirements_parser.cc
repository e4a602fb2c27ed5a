#include "tvd/policy/host_requirements_parser.h"

#include <map>

#include "parse_parts.h"
#include "tvd/policy/policy_error.h"
#include "tvd/policy/values.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

namespace internal {

namespace {

StatusOr<PcrRequirement> ReadPcr(const ElementReader& r) {
  TVD_RETURN_IF_ERROR(r.AllowOnly({"bank", "index"}));
  PcrRequirement pcr;
  TVD_ASSIGN_OR_RETURN(pcr.bank, r.Required("bank"));
  if (pcr.bank != "sha256") {
    return r.AttrError(
        "bank", "attribute 'bank' must be 'sha256', got " + Quote(pcr.bank));
  }
  TVD_ASSIGN_OR_RETURN(std::string index, r.Required("index"));
  const auto idx = ParseDecimal(index, 0, kMaxPcrIndex);
  if (!idx) {
    return r.AttrError(
        "index",
        "attribute 'index' must be an integer in 0..23, got " + Quote(index));
  }
  pcr.index = static_cast<int>(*idx);
  std::map<Sha256Digest, int> first;
  TVD_RETURN_IF_ERROR(
      r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
        ElementReader c(e, r.file());
        if (c.name() != "known-good") return r.UnknownChild(e);
        TVD_RETURN_IF_ERROR(c.AllowOnly({"value"}));
        TVD_RETURN_IF_ERROR(c.Empty());
        TVD_ASSIGN_OR_RETURN(Sha256Digest d, ReadDigest(c, "value"));
        auto [it, fresh] = first.emplace(d, c.line());
        if (!fresh) {
          return c.Error("duplicate value for PCR " +
                         std::to_string(pcr.index) + " (first at line " +
                         std::to_string(it->second) + ")");
        }
        pcr.known_good.push_back(d);
        return Status::Ok();
      }));
  if (pcr.known_good.empty()) return r.Error("needs at least one <known-good>");
  return pcr;
}

StatusOr<ImaAllowlistRef> ReadImaAllowlist(const ElementReader& r) {
  TVD_RETURN_IF_ERROR(r.AllowOnly({"path", "sha256"}));
  TVD_RETURN_IF_ERROR(r.Empty());
  ImaAllowlistRef ref;
  TVD_ASSIGN_OR_RETURN(ref.path, r.Required("path"));
  if (!IsAbsolutePath(ref.path)) {
    return r.AttrError(
        "path",
        "attribute 'path' must be an absolute path, got " + Quote(ref.path));
  }
  TVD_ASSIGN_OR_RETURN(ref.sha256, ReadDigest(r, "sha256"));
  return ref;
}

}  // namespace

StatusOr<HostRequirements> ReadHostRequirements(
    const ElementReader& r, std::initializer_list<std::string_view> extra) {
  std::vector<std::string_view> allowed(extra);
  allowed.push_back("allow-no-tpm");
  allowed.push_back("attestation-interval");
  for (const tinyxml2::XMLAttribute* a = r.element().FirstAttribute();
       a != nullptr; a = a->Next()) {
    bool known = false;
    for (std::string_view ok : allowed) known = known || ok == a->Name();
    if (!known) {
      return r.AttrError(a->Name(), "unknown attribute " + Quote(a->Name()));
    }
  }
  HostRequirements hr;
  TVD_ASSIGN_OR_RETURN(std::string no_tpm, r.Required("allow-no-tpm"));
  const auto b = ParseBool(no_tpm);
  if (!b) {
    return r.AttrError("allow-no-tpm",
                       "attribute 'allow-no-tpm' must be 'true' or 'false', "
                       "got " +
                           Quote(no_tpm));
  }
  hr.allow_no_tpm = *b;
  TVD_ASSIGN_OR_RETURN(std::string interval,
                       r.Required("attestation-interval"));
  const auto secs = ParseDecimal(interval, 1, kMaxAttestationIntervalSeconds);
  if (!secs) {
    return r.AttrError("attestation-interval",
                       "attribute 'attestation-interval' must be an integer "
                       "in 1..86400 (seconds), got " +
                           Quote(interval));
  }
  hr.attestation_interval_seconds = static_cast<std::uint32_t>(*secs);

  std::map<int, int> pcr_lines;
  int ima_line = 0;
  TVD_RETURN_IF_ERROR(
      r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
        ElementReader c(e, r.file());
        if (c.name() == "pcr") {
          TVD_ASSIGN_OR_RETURN(PcrRequirement pcr, ReadPcr(c));
          auto [it, fresh] = pcr_lines.emplace(pcr.index, c.line());
          if (!fresh) {
            return c.Error("duplicate PCR index " + std::to_string(pcr.index) +
                           " (first at line " + std::to_string(it->second) +
                           ")");
          }
          hr.pcrs.push_back(std::move(pcr));
        } else if (c.name() == "ima-allowlist") {
          if (ima_line != 0) return r.DuplicateChild(e, ima_line);
          ima_line = c.line();
          TVD_ASSIGN_OR_RETURN(hr.ima_allowlist, ReadImaAllowlist(c));
        } else {
          return r.UnknownChild(e);
        }
        return Status::Ok();
      }));
  if (hr.pcrs.empty() && !hr.ima_allowlist) {
    return r.Error("needs at least one <pcr> or <ima-allowlist>");
  }
  return hr;
}

}  // namespace internal

StatusOr<HostRequirements> ParseHostRequirements(std::string_view xml,
                                                 std::string_view source) {
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(xml, source));
  return ReadHostRequirements(*doc, source);
}

StatusOr<HostRequirements> ReadHostRequirements(
    const tinyxml2::XMLDocument& doc, std::string_view source) {
  TVD_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root,
                       internal::PolicyRoot(doc, source, "host-requirements"));
  return internal::ReadHostRequirements(internal::ElementReader(*root, source),
                                        {"xmlns"});
}

StatusOr<HostRequirements> LoadHostRequirementsFile(const std::string& path) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadPolicyFile(path));
  return ParseHostRequirements(text, path);
}

}  // namespace tvd::policy
