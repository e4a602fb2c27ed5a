#include "tvd/master/query_json.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "tvd/sha256.h"

namespace tvd::master {

StatusOr<std::string> RenderQuery(const protocol::AdminQuery& q,
                                  const std::vector<TvdView>& tvds,
                                  Store& store) {
  TVD_ASSIGN_OR_RETURN(std::vector<HostRow> hosts, store.ListHosts());
  std::map<std::string, const HostRow*> by_name;
  for (const HostRow& h : hosts) by_name[h.name] = &h;
  auto describe = [&](const TvdView& t) -> StatusOr<nlohmann::json> {
    nlohmann::json j{{"name", t.name},
                     {"id", t.id},
                     {"digest", ToHex(t.digest)},
                     {"epoch", t.epoch},
                     {"source", t.from_file ? "file" : "admin"},
                     {"members", nlohmann::json::array()},
                     {"networks", nlohmann::json::array()},
                     {"vms", nlohmann::json::array()}};
    for (const policy::Network& n : t.networks) {
      j["networks"].push_back(
          {{"name", n.name},
           {"kind", policy::NetworkKindName(n.kind)},
           {"vni", n.vni},
           {"subnet", n.subnet ? nlohmann::json(*n.subnet) : nullptr}});
    }
    for (const std::string& m : t.members) {
      const HostRow* h = by_name.count(m) ? by_name[m] : nullptr;
      j["members"].push_back(
          {{"host", m},
           {"underlay", h ? h->underlay : ""},
           {"attested", h ? h->attested : false},
           {"attestation_reason", h ? h->attestation_reason : ""},
           {"attested_at", h ? h->attested_at : 0},
           {"connected", t.connected.count(m) > 0}});
    }
    TVD_ASSIGN_OR_RETURN(auto vms, store.Vms(t.name));
    for (const VmRow& v : vms) {
      j["vms"].push_back({{"vm", v.vm}, {"host", v.host}, {"uuid", v.uuid}});
    }
    if (t.quota_in_use) {
      const policy::QuotaAmounts& used = *t.quota_in_use;
      j["quota_in_use"] = {{"domains", used.domains},
                           {"vcpus", used.vcpus},
                           {"memory_kib", used.memory_kib},
                           {"disk_bytes", used.disk_bytes}};
    }
    return j;
  };
  switch (q.kind) {
    case protocol::AdminQueryKind::kTvd: {
      auto it = std::find_if(tvds.begin(), tvds.end(), [&](const TvdView& t) {
        return t.name == q.name;
      });
      if (it == tvds.end()) return NotFound("no TVD named " + q.name);
      TVD_ASSIGN_OR_RETURN(auto j, describe(*it));
      // Only for one TVD: the list of all TVDs stays one read per TVD.
      TVD_ASSIGN_OR_RETURN(auto vtpms, store.ListVtpmBindings(it->name));
      j["vtpms"] = nlohmann::json::array();
      for (const VtpmBindingRow& b : vtpms) {
        j["vtpms"].push_back({{"vm", b.vm},
                              {"host", b.host},
                              {"ek_sha256", ToHex(Sha256(b.ek_public))},
                              {"ak_sha256", ToHex(Sha256(b.ak_public))},
                              {"ek_public", ToHex(b.ek_public)},
                              {"ak_public", ToHex(b.ak_public)},
                              {"created_at", b.created_at}});
      }
      return j.dump();
    }
    case protocol::AdminQueryKind::kTvds: {
      nlohmann::json all = nlohmann::json::array();
      for (const TvdView& t : tvds) {
        TVD_ASSIGN_OR_RETURN(auto j, describe(t));
        all.push_back(std::move(j));
      }
      return nlohmann::json{{"tvds", all}}.dump();
    }
    case protocol::AdminQueryKind::kHosts: {
      nlohmann::json all = nlohmann::json::array();
      for (const HostRow& h : hosts) {
        nlohmann::json names = nlohmann::json::array();
        for (const TvdView& t : tvds) {
          if (std::binary_search(t.members.begin(), t.members.end(), h.name))
            names.push_back(t.name);
        }
        all.push_back({{"name", h.name},
                       {"underlay", h.underlay},
                       {"attested", h.attested},
                       {"attestation_reason", h.attestation_reason},
                       {"attested_at", h.attested_at},
                       {"tvds", names}});
      }
      return nlohmann::json{{"hosts", all}}.dump();
    }
    case protocol::AdminQueryKind::kAudit: {
      TVD_ASSIGN_OR_RETURN(auto rows, store.RecentAudit(200));
      nlohmann::json all = nlohmann::json::array();
      for (const AuditRow& r : rows) {
        all.push_back({{"id", r.id},
                       {"at", r.at},
                       {"actor", r.actor},
                       {"action", r.action},
                       {"subject", r.subject},
                       {"allowed", r.allowed},
                       {"reason", r.reason}});
      }
      return nlohmann::json{{"audit", all}}.dump();
    }
    case protocol::AdminQueryKind::kMaster:
      // Answered from the replica's own state (AdminRequests).
      return FailedPrecondition(
          "query 'master' is not rendered from the "
          "registry");
  }
  return InvalidArgument("unknown query kind");
}

}  // namespace tvd::master
