#include "tvd/policy/canonical.h"

#include <tinyxml2.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <tuple>

#include "tvd/text.h"
#include "tvd/xml_escape.h"

namespace tvd::policy {

namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j, int indent) {
  // `replace` keeps dump() from throwing on a hand-built model with invalid
  // UTF-8; parsed models are valid UTF-8 already.
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

template <typename T, typename Key>
std::vector<T> Sorted(std::vector<T> v, Key key) {
  std::sort(v.begin(), v.end(),
            [&](const T& a, const T& b) { return key(a) < key(b); });
  return v;
}

Json MeasuresJson(const std::vector<Measurement>& measures) {
  Json out = Json::array();
  for (const Measurement& m : Sorted(measures, [](const Measurement& m) {
         return std::make_pair(std::string(MeasureTypeName(m.type)), m.target);
       })) {
    Json j = {{"type", MeasureTypeName(m.type)}};
    if (!m.target.empty()) j["target"] = m.target;
    if (m.sha256) j["sha256"] = ToHex(*m.sha256);
    out.push_back(std::move(j));
  }
  return out;
}

Json HostRequirementsJson(const HostRequirements& hr) {
  Json pcrs = Json::array();
  for (const PcrRequirement& p : Sorted(hr.pcrs, [](const PcrRequirement& p) {
         return std::make_pair(p.bank, p.index);
       })) {
    std::vector<std::string> values;
    for (const Sha256Digest& d : p.known_good) values.push_back(ToHex(d));
    std::sort(values.begin(), values.end());
    pcrs.push_back(
        {{"bank", p.bank}, {"index", p.index}, {"known-good", values}});
  }
  Json j = {{"allow-no-tpm", hr.allow_no_tpm},
            {"attestation-interval", hr.attestation_interval_seconds},
            {"pcrs", std::move(pcrs)}};
  if (hr.ima_allowlist) {
    j["ima-allowlist"] = {{"path", hr.ima_allowlist->path},
                          {"sha256", ToHex(hr.ima_allowlist->sha256)}};
  }
  // Only when present, so requirements without it keep their digest.
  if (hr.measured_boot) {
    const MeasuredBootRequirement& mb = *hr.measured_boot;
    auto digests = [](const std::vector<Sha256Digest>& list) {
      std::vector<std::string> hex;
      for (const Sha256Digest& d : list) hex.push_back(ToHex(d));
      std::sort(hex.begin(), hex.end());
      return hex;
    };
    Json events = Json::array();
    for (const MeasuredBootRequirement::Event& e :
         Sorted(mb.events, [](const MeasuredBootRequirement::Event& e) {
           return std::make_tuple(e.pcr, e.type, e.sha256);
         })) {
      events.push_back(
          {{"pcr", e.pcr}, {"sha256", ToHex(e.sha256)}, {"type", e.type}});
    }
    j["measured-boot"] = {
        {"bootloader", digests(mb.bootloader)},
        {"db", digests(mb.db)},
        {"dbx", digests(mb.dbx)},
        {"events", std::move(events)},
        {"firmware", digests(mb.firmware)},
        {"kek", digests(mb.kek)},
        {"kernel", digests(mb.kernel)},
        {"pk", digests(mb.pk)},
        {"secure-boot", mb.require_secure_boot ? "required" : "not-required"},
        {"shim", digests(mb.shim)}};
  }
  return j;
}

std::vector<std::string> SortedStrings(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool IsTvdNamespaceDecl(const tinyxml2::XMLAttribute& a) {
  const std::string_view name = a.Name();
  return (name == "xmlns" || name.starts_with("xmlns:")) &&
         std::string_view(a.Value()) == kVmNamespace;
}

void AppendCanonical(const tinyxml2::XMLElement& e,
                     const tinyxml2::XMLElement* skip, std::string& out) {
  // <metadata> that holds nothing but the TVD element disappears entirely,
  // so adding or removing TVD settings never changes the config measure.
  if (skip != nullptr && skip->Parent() == &e &&
      std::string_view(e.Name()) == "metadata") {
    bool other = false;
    for (const tinyxml2::XMLNode* n = e.FirstChild(); n != nullptr;
         n = n->NextSibling()) {
      if (n == skip) continue;
      if (n->ToElement() != nullptr) other = true;
      if (n->ToText() != nullptr && !TrimWhitespace(n->Value()).empty())
        other = true;
    }
    if (!other) return;
  }
  std::vector<std::pair<std::string_view, std::string_view>> attrs;
  for (const tinyxml2::XMLAttribute* a = e.FirstAttribute(); a != nullptr;
       a = a->Next()) {
    if (IsTvdNamespaceDecl(*a)) continue;
    attrs.emplace_back(a->Name(), a->Value());
  }
  std::sort(attrs.begin(), attrs.end());
  out += '<';
  out += e.Name();
  for (const auto& [name, value] : attrs) {
    out += ' ';
    out += name;
    out += "=\"";
    out += EscapeXmlCanonical(value);
    out += '"';
  }
  out += '>';
  for (const tinyxml2::XMLNode* n = e.FirstChild(); n != nullptr;
       n = n->NextSibling()) {
    if (n == skip) continue;
    if (const auto* child = n->ToElement(); child != nullptr) {
      AppendCanonical(*child, skip, out);
    } else if (const auto* t = n->ToText(); t != nullptr) {
      out += EscapeXmlCanonical(
          TrimWhitespace(t->Value() != nullptr ? t->Value() : ""));
    }
  }
  out += "</";
  out += e.Name();
  out += '>';
}

}  // namespace

std::string ToJson(const TvdPolicy& p, int indent) {
  Json networks = Json::array();
  for (const Network& n :
       Sorted(p.networks, [](const Network& n) { return n.name; })) {
    Json j = {
        {"name", n.name}, {"kind", NetworkKindName(n.kind)}, {"vni", n.vni}};
    if (n.subnet) j["subnet"] = *n.subnet;
    networks.push_back(std::move(j));
  }
  Json vms = Json::array();
  for (const VmKnownGood& v :
       Sorted(p.vms, [](const VmKnownGood& v) { return v.vm; })) {
    vms.push_back({{"name", v.vm}, {"measures", MeasuresJson(v.measures)}});
  }
  Json gateways = Json::array();
  for (const GatewayRule& g : Sorted(p.gateways, [](const GatewayRule& g) {
         return std::make_pair(g.vm, g.peer);
       })) {
    gateways.push_back({{"vm", g.vm}, {"peer", g.peer}});
  }
  Json j = {
      {"format", kTvdPolicyFormat},
      {"name", p.name},
      {"id", p.id},
      {"owner", p.owner},
      {"networks", std::move(networks)},
      {"transport",
       {{"ipsec",
         {{"ike", p.transport.ike_proposal},
          {"esp", p.transport.esp_proposal}}}}},
      {"host-requirements", HostRequirementsJson(p.host_requirements)},
      {"authorized-hosts", SortedStrings(p.authorized_hosts)},
      {"vms", std::move(vms)},
      {"gateways", std::move(gateways)},
      {"key-release", {{"disk-key", SortedStrings(p.disk_key_vms)}}},
  };
  // Only when present, so policies without vTPMs keep their digest.
  if (p.vtpm_all_vms) j["key-release"]["vtpm-all-vms"] = true;
  if (!p.vtpm_vms.empty()) {
    j["key-release"]["vtpm"] = SortedStrings(p.vtpm_vms);
  }
  // Only when present, so policies without quotas keep their digest.
  auto limits_json = [](const QuotaLimits& q) {
    Json out = Json::object();
    if (q.domains) out["domains"] = *q.domains;
    if (q.vcpus) out["vcpus"] = *q.vcpus;
    if (q.memory_mib) out["memory-mib"] = *q.memory_mib;
    if (q.disk_gib) out["disk-gib"] = *q.disk_gib;
    return out;
  };
  if (!p.per_host_quota.empty() || !p.total_quota.empty()) {
    Json quotas = Json::object();
    if (!p.per_host_quota.empty()) {
      quotas["per-host"] = limits_json(p.per_host_quota);
    }
    if (!p.total_quota.empty()) quotas["total"] = limits_json(p.total_quota);
    j["quotas"] = std::move(quotas);
  }
  return Dump(j, indent);
}

std::string ToJson(const HostRequirements& hr, int indent) {
  Json j = HostRequirementsJson(hr);
  j["format"] = kHostRequirementsFormat;
  return Dump(j, indent);
}

std::string ToJson(const VmConfig& vm, int indent) {
  Json vnets = Json::array();
  for (const VnetBinding& v :
       Sorted(vm.tvd.vnets, [](const VnetBinding& v) { return v.target; })) {
    Json j = {{"target", v.target}};
    if (v.network) j["network"] = *v.network;
    vnets.push_back(std::move(j));
  }
  Json j = {
      {"format", kVmConfigFormat},
      {"name", vm.name},
      {"domain", vm.canonical_domain},
      {"tvd",
       {{"owner", vm.tvd.owner},
        {"measures", MeasuresJson(vm.tvd.measures)},
        {"encrypted-disks", SortedStrings(vm.tvd.encrypted_disks)},
        {"vnets", std::move(vnets)}}},
  };
  // Only when present, so configurations without them keep their form.
  if (vm.tvd.vtpm) j["tvd"]["vtpm"] = true;
  if (!vm.tvd.encrypted_disk_create_mib.empty()) {
    Json sizes = Json::object();
    for (const auto& [target, mib] : vm.tvd.encrypted_disk_create_mib) {
      sizes[target] = mib;
    }
    j["tvd"]["encrypted-disk-create-mib"] = std::move(sizes);
  }
  return Dump(j, indent);
}

Sha256Digest CanonicalDigest(const TvdPolicy& policy) {
  return Sha256(ToJson(policy));
}
Sha256Digest CanonicalDigest(const HostRequirements& requirements) {
  return Sha256(ToJson(requirements));
}
Sha256Digest CanonicalDigest(const VmConfig& vm) { return Sha256(ToJson(vm)); }

std::string CanonicalDomainXml(const tinyxml2::XMLElement& domain,
                               const tinyxml2::XMLElement* tvd_metadata) {
  std::string out;
  AppendCanonical(domain, tvd_metadata, out);
  return out;
}

}  // namespace tvd::policy
