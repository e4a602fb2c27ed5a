#include "tvd/policy/tvd_policy_parser.h"

#include <map>
#include <set>

#include "parse_parts.h"
#include "tvd/policy/ipsec_proposal.h"
#include "tvd/policy/policy_error.h"
#include "tvd/policy/values.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

namespace {

using internal::ElementReader;
using internal::Quote;

// Tracks the first line of each single-valued child of an element.
class Singles {
 public:
  // Fails if `e` was already seen under `parent`.
  Status Claim(const ElementReader& parent, const tinyxml2::XMLElement& e) {
    auto [it, fresh] = lines_.emplace(e.Name(), e.GetLineNum());
    if (!fresh) return parent.DuplicateChild(e, it->second);
    return Status::Ok();
  }
  bool Has(std::string_view name) const {
    return lines_.count(std::string(name)) != 0;
  }

 private:
  std::map<std::string, int> lines_;
};

class PolicyReader {
 public:
  explicit PolicyReader(std::string_view file) : file_(file) {}

  StatusOr<TvdPolicy> Read(const tinyxml2::XMLElement& root) {
    ElementReader r(root, file_);
    TVD_RETURN_IF_ERROR(r.AllowOnly({"xmlns", "name", "id"}));
    TVD_ASSIGN_OR_RETURN(policy_.name, r.Required("name"));
    if (!IsTvdName(policy_.name)) {
      return r.AttrError("name",
                         "attribute 'name' must be a TVD name "
                         "([a-z][a-z0-9-]{0,30}), got " +
                             Quote(policy_.name));
    }
    TVD_ASSIGN_OR_RETURN(std::string id, r.Required("id"));
    const auto idv = ParseDecimal(id, kMinTvdId, kMaxTvdId);
    if (!idv) {
      return r.AttrError("id",
                         "attribute 'id' must be an integer in "
                         "1..16383, got " +
                             Quote(id));
    }
    policy_.id = static_cast<std::uint32_t>(*idv);

    Singles seen;
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
          TVD_RETURN_IF_ERROR(seen.Claim(r, e));
          ElementReader c(e, file_);
          const std::string_view n = c.name();
          if (n == "owner") return Owner(c);
          if (n == "networks") return Networks(c);
          if (n == "transport") return Transport(c);
          if (n == "host-requirements") {
            TVD_ASSIGN_OR_RETURN(policy_.host_requirements,
                                 internal::ReadHostRequirements(c, {}));
            return Status::Ok();
          }
          if (n == "authorized-hosts") return AuthorizedHosts(c);
          if (n == "vms") return Vms(c);
          if (n == "gateways") return Gateways(c);
          if (n == "key-release") return KeyRelease(c);
          if (n == "quotas") return Quotas(c);
          return r.UnknownChild(e);
        }));
    for (const char* required : {"owner", "networks", "transport",
                                 "host-requirements", "authorized-hosts"}) {
      if (!seen.Has(required)) return r.MissingChild(required);
    }
    // Key release refers to VMs, which may come later in the document.
    for (const auto& [vm, line] : disk_key_lines_) {
      if (policy_.FindVm(vm) == nullptr) {
        return PolicyError(file_, line,
                           "<disk-key>: VM " + Quote(vm) +
                               " has no known-good measurements in <vms>");
      }
    }
    for (const auto& [vm, line] : vtpm_lines_) {
      if (policy_.FindVm(vm) == nullptr) {
        return PolicyError(file_, line,
                           "<vtpm>: VM " + Quote(vm) +
                               " has no known-good measurements in <vms>");
      }
    }
    return std::move(policy_);
  }

 private:
  Status Owner(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({"subject"}));
    TVD_RETURN_IF_ERROR(r.Empty());
    TVD_ASSIGN_OR_RETURN(policy_.owner, Subject(r));
    return Status::Ok();
  }

  StatusOr<std::string> Subject(const ElementReader& r) {
    TVD_ASSIGN_OR_RETURN(std::string s, r.Required("subject"));
    if (!IsSubject(s)) {
      return r.AttrError("subject",
                         "attribute 'subject' must be a certificate subject "
                         "(printable ASCII with '='), got " +
                             Quote(s));
    }
    return s;
  }

  Status Networks(const ElementReader& r) {
    std::map<std::string, int> names;
    std::map<std::uint32_t, std::pair<std::string, int>> vnis;
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
          ElementReader c(e, file_);
          if (c.name() != "network") return r.UnknownChild(e);
          TVD_RETURN_IF_ERROR(c.AllowOnly({"name", "kind", "vni", "subnet"}));
          TVD_RETURN_IF_ERROR(c.Empty());
          Network net;
          TVD_ASSIGN_OR_RETURN(net.name, c.Required("name"));
          if (!IsTvdName(net.name)) {
            return c.AttrError("name",
                               "attribute 'name' must be a network name "
                               "([a-z][a-z0-9-]{0,30}), got " +
                                   Quote(net.name));
          }
          TVD_ASSIGN_OR_RETURN(std::string kind, c.Required("kind"));
          if (kind == "data") {
            net.kind = NetworkKind::kData;
          } else if (kind == "management") {
            net.kind = NetworkKind::kManagement;
          } else {
            return c.AttrError("kind",
                               "attribute 'kind' must be 'data' or "
                               "'management', got " +
                                   Quote(kind));
          }
          TVD_ASSIGN_OR_RETURN(std::string vni, c.Required("vni"));
          const auto v = ParseDecimal(vni, kMinVni, kMaxVni);
          if (!v) {
            return c.AttrError("vni",
                               "attribute 'vni' must be an integer in "
                               "1..16777215, got " +
                                   Quote(vni));
          }
          net.vni = static_cast<std::uint32_t>(*v);
          if (auto subnet = c.Optional("subnet")) {
            net.subnet = NormalizeCidr(*subnet);
            if (!net.subnet) {
              return c.AttrError("subnet",
                                 "attribute 'subnet' must be an IPv4 or IPv6 "
                                 "prefix without host bits, got " +
                                     Quote(*subnet));
            }
          }
          if (auto [it, fresh] = names.emplace(net.name, c.line()); !fresh) {
            return c.Error("duplicate network name " + Quote(net.name) +
                           " (first at line " + std::to_string(it->second) +
                           ")");
          }
          if (auto [it, fresh] =
                  vnis.emplace(net.vni, std::make_pair(net.name, c.line()));
              !fresh) {
            return c.AttrError("vni",
                               "duplicate VNI " + std::to_string(net.vni) +
                                   " (already used by network " +
                                   Quote(it->second.first) + " at line " +
                                   std::to_string(it->second.second) + ")");
          }
          policy_.networks.push_back(std::move(net));
          return Status::Ok();
        }));
    if (policy_.networks.empty()) {
      return r.Error("needs at least one <network>");
    }
    return Status::Ok();
  }

  Status Transport(const ElementReader& r) {
    bool have_ipsec = false;
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    Singles seen;
    TVD_RETURN_IF_ERROR(r.ForEachChild([&](const tinyxml2::XMLElement& e)
                                           -> Status {
      ElementReader c(e, file_);
      if (c.name() != "ipsec") return r.UnknownChild(e);
      TVD_RETURN_IF_ERROR(seen.Claim(r, e));
      TVD_RETURN_IF_ERROR(c.AllowOnly({"ike", "esp"}));
      TVD_RETURN_IF_ERROR(c.Empty());
      TVD_ASSIGN_OR_RETURN(policy_.transport.ike_proposal, c.Required("ike"));
      TVD_ASSIGN_OR_RETURN(policy_.transport.esp_proposal, c.Required("esp"));
      if (Status s = CheckIpsecProposal(policy_.transport.ike_proposal,
                                        ProposalKind::kIke);
          !s.ok()) {
        return c.AttrError("ike",
                           "attribute 'ike' is not an allowed IKE "
                           "proposal: " +
                               s.message());
      }
      if (Status s = CheckIpsecProposal(policy_.transport.esp_proposal,
                                        ProposalKind::kEsp);
          !s.ok()) {
        return c.AttrError("esp",
                           "attribute 'esp' is not an allowed ESP "
                           "proposal: " +
                               s.message());
      }
      have_ipsec = true;
      return Status::Ok();
    }));
    if (!have_ipsec) return r.MissingChild("ipsec");
    return Status::Ok();
  }

  Status AuthorizedHosts(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    std::map<std::string, int> first;
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() != "host") return r.UnknownChild(e);
      TVD_RETURN_IF_ERROR(c.AllowOnly({"subject"}));
      TVD_RETURN_IF_ERROR(c.Empty());
      TVD_ASSIGN_OR_RETURN(std::string subject, Subject(c));
      if (auto [it, fresh] = first.emplace(subject, c.line()); !fresh) {
        return c.Error("duplicate host subject " + Quote(subject) +
                       " (first at line " + std::to_string(it->second) + ")");
      }
      policy_.authorized_hosts.push_back(std::move(subject));
      return Status::Ok();
    });
  }

  Status Vms(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    std::map<std::string, int> first;
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() != "vm") return r.UnknownChild(e);
      TVD_RETURN_IF_ERROR(c.AllowOnly({"name"}));
      VmKnownGood vm;
      TVD_ASSIGN_OR_RETURN(vm.vm, VmName(c, "name"));
      if (auto [it, fresh] = first.emplace(vm.vm, c.line()); !fresh) {
        return c.Error("duplicate VM " + Quote(vm.vm) + " (first at line " +
                       std::to_string(it->second) + ")");
      }
      std::map<std::string, int> measure_lines;
      TVD_RETURN_IF_ERROR(
          c.ForEachChild([&](const tinyxml2::XMLElement& m) -> Status {
            ElementReader mr(m, file_);
            if (mr.name() != "measure") return c.UnknownChild(m);
            TVD_ASSIGN_OR_RETURN(Measurement meas,
                                 internal::ReadMeasure(mr, true));
            return internal::AddMeasure(mr, std::move(meas), vm.measures,
                                        measure_lines);
          }));
      if (vm.measures.empty()) return c.Error("needs at least one <measure>");
      policy_.vms.push_back(std::move(vm));
      return Status::Ok();
    });
  }

  StatusOr<std::string> VmName(const ElementReader& r, std::string_view attr) {
    TVD_ASSIGN_OR_RETURN(std::string name, r.Required(attr));
    if (!IsVmName(name)) {
      return r.AttrError(attr, "attribute '" + std::string(attr) +
                                   "' must be a VM name "
                                   "([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), got " +
                                   Quote(name));
    }
    return name;
  }

  Status Gateways(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    std::map<std::pair<std::string, std::string>, int> first;
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() != "gateway") return r.UnknownChild(e);
      TVD_RETURN_IF_ERROR(c.AllowOnly({"vm", "peer"}));
      TVD_RETURN_IF_ERROR(c.Empty());
      GatewayRule g;
      TVD_ASSIGN_OR_RETURN(g.vm, VmName(c, "vm"));
      TVD_ASSIGN_OR_RETURN(g.peer, c.Required("peer"));
      if (!IsTvdName(g.peer)) {
        return c.AttrError("peer",
                           "attribute 'peer' must be a TVD name "
                           "([a-z][a-z0-9-]{0,30}), got " +
                               Quote(g.peer));
      }
      if (g.peer == policy_.name) {
        return c.AttrError("peer",
                           "a gateway must lead to another TVD, not to " +
                               Quote(g.peer) + " itself");
      }
      if (auto [it, fresh] =
              first.emplace(std::make_pair(g.vm, g.peer), c.line());
          !fresh) {
        return c.Error("duplicate gateway " + Quote(g.vm) + " to " +
                       Quote(g.peer) + " (first at line " +
                       std::to_string(it->second) + ")");
      }
      policy_.gateways.push_back(std::move(g));
      return Status::Ok();
    });
  }

  Status KeyRelease(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    return r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
      ElementReader c(e, file_);
      if (c.name() == "vtpm") return Vtpm(c);
      if (c.name() != "disk-key") return r.UnknownChild(e);
      TVD_RETURN_IF_ERROR(c.AllowOnly({"vm"}));
      TVD_RETURN_IF_ERROR(c.Empty());
      TVD_ASSIGN_OR_RETURN(std::string vm, VmName(c, "vm"));
      if (auto [it, fresh] = disk_key_lines_.emplace(vm, c.line()); !fresh) {
        return c.Error("duplicate disk key rule for VM " + Quote(vm) +
                       " (first at line " + std::to_string(it->second) + ")");
      }
      policy_.disk_key_vms.push_back(std::move(vm));
      return Status::Ok();
    });
  }

  // <vtpm/> (every VM of the TVD) at most once; <vtpm vm="..."/> once per
  // VM, which must have known-good measurements (checked at the end).
  Status Vtpm(const ElementReader& c) {
    TVD_RETURN_IF_ERROR(c.AllowOnly({"vm"}));
    TVD_RETURN_IF_ERROR(c.Empty());
    if (!c.Optional("vm")) {
      if (vtpm_all_line_ != 0) {
        return c.Error("duplicate <vtpm/> for every VM (first at line " +
                       std::to_string(vtpm_all_line_) + ")");
      }
      vtpm_all_line_ = c.line();
      policy_.vtpm_all_vms = true;
      return Status::Ok();
    }
    TVD_ASSIGN_OR_RETURN(std::string vm, VmName(c, "vm"));
    if (auto [it, fresh] = vtpm_lines_.emplace(vm, c.line()); !fresh) {
      return c.Error("duplicate vTPM rule for VM " + Quote(vm) +
                     " (first at line " + std::to_string(it->second) + ")");
    }
    policy_.vtpm_vms.push_back(std::move(vm));
    return Status::Ok();
  }

  // <quotas> holds at most one <per-host> and one <total> (at least one of
  // them), each with at least one limit.
  Status Quotas(const ElementReader& r) {
    TVD_RETURN_IF_ERROR(r.AllowOnly({}));
    Singles seen;
    TVD_RETURN_IF_ERROR(
        r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
          ElementReader c(e, file_);
          if (c.name() == "per-host") {
            TVD_RETURN_IF_ERROR(seen.Claim(r, e));
            return Limits(c, kPerHostBounds, policy_.per_host_quota);
          }
          if (c.name() == "total") {
            TVD_RETURN_IF_ERROR(seen.Claim(r, e));
            return Limits(c, kTotalBounds, policy_.total_quota);
          }
          return r.UnknownChild(e);
        }));
    if (!seen.Has("per-host") && !seen.Has("total")) {
      return r.Error("needs a <per-host> or a <total> element");
    }
    return Status::Ok();
  }

  struct LimitBounds {
    std::uint64_t domains, vcpus, memory_mib, disk_gib;
  };
  static constexpr LimitBounds kPerHostBounds{
      kMaxQuotaDomains, kMaxQuotaVcpus, kMaxQuotaMemoryMib, kMaxQuotaDiskGib};
  static constexpr LimitBounds kTotalBounds{
      kMaxTotalQuotaDomains, kMaxTotalQuotaVcpus, kMaxTotalQuotaMemoryMib,
      kMaxTotalQuotaDiskGib};

  // The attributes of <per-host> or <total>.
  Status Limits(const ElementReader& c, const LimitBounds& max,
                QuotaLimits& q) {
    TVD_RETURN_IF_ERROR(
        c.AllowOnly({"domains", "vcpus", "memory-mib", "disk-gib"}));
    TVD_RETURN_IF_ERROR(c.Empty());
    TVD_ASSIGN_OR_RETURN(auto domains, Limit(c, "domains", max.domains));
    TVD_ASSIGN_OR_RETURN(auto vcpus, Limit(c, "vcpus", max.vcpus));
    TVD_ASSIGN_OR_RETURN(q.memory_mib, Limit(c, "memory-mib", max.memory_mib));
    TVD_ASSIGN_OR_RETURN(q.disk_gib, Limit(c, "disk-gib", max.disk_gib));
    if (domains) q.domains = static_cast<std::uint32_t>(*domains);
    if (vcpus) q.vcpus = static_cast<std::uint32_t>(*vcpus);
    if (q.empty()) {
      return c.Error(
          "needs at least one of the attributes 'domains', 'vcpus', "
          "'memory-mib', 'disk-gib'");
    }
    return Status::Ok();
  }

  // An optional positive integer attribute no larger than `max`.
  StatusOr<std::optional<std::uint64_t>> Limit(const ElementReader& r,
                                               std::string_view attr,
                                               std::uint64_t max) {
    std::optional<std::string> text = r.Optional(attr);
    if (!text) return std::optional<std::uint64_t>();
    const auto v = ParseDecimal(*text, 1, max);
    if (!v) {
      return r.AttrError(attr, "attribute '" + std::string(attr) +
                                   "' must be an integer in 1.." +
                                   std::to_string(max) + ", got " +
                                   Quote(*text));
    }
    return std::optional<std::uint64_t>(*v);
  }

  std::string_view file_;
  TvdPolicy policy_;
  std::map<std::string, int> disk_key_lines_;
  std::map<std::string, int> vtpm_lines_;
  int vtpm_all_line_ = 0;
};

}  // namespace

StatusOr<TvdPolicy> ReadTvdPolicy(const tinyxml2::XMLDocument& doc,
                                  std::string_view source) {
  TVD_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root,
                       internal::PolicyRoot(doc, source, "tvd-policy"));
  return PolicyReader(source).Read(*root);
}

StatusOr<TvdPolicy> ParseTvdPolicy(std::string_view xml,
                                   std::string_view source) {
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(xml, source));
  return ReadTvdPolicy(*doc, source);
}

StatusOr<TvdPolicy> LoadTvdPolicyFile(const std::string& path) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadPolicyFile(path));
  return ParseTvdPolicy(text, path);
}

}  // namespace tvd::policy
