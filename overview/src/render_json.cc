#include "tvd/overview/render.h"

namespace tvd::overview {

namespace {

using nlohmann::json;

json Source(const SourceState& s) {
  return json{{"ok", s.ok},
              {"error", s.ok ? json(nullptr) : json(s.error)},
              {"code", s.ok ? json(nullptr)
                            : json(std::string(ErrorCodeName(s.code)))}};
}

json Resources(const std::optional<NodeResources>& r) {
  if (!r) return nullptr;
  return json{{"cpus", r->cpus},
              {"load1", r->load1},
              {"mem_total_kib", r->mem_total_kib},
              {"mem_free_kib", r->mem_free_kib},
              {"free_vcpus", r->free_vcpus},
              {"free_mem_kib", r->free_mem_kib}};
}

}  // namespace

json RenderJson(const Overview& o) {
  const Totals t = ComputeTotals(o);
  json tvds = json::array();
  for (const TvdView& tvd : o.tvds) {
    json hosts = json::array();
    for (const TvdOnHost& p : tvd.hosts) {
      json vms = json::array();
      for (const VmPlacement& vm : p.vms) {
        vms.push_back({{"name", vm.name},
                       {"state", vm.seen_on_host ? json(vm.state) : json()},
                       {"reported", vm.reported},
                       {"seen_on_host", vm.seen_on_host}});
      }
      hosts.push_back({{"host", p.host},
                       {"member", p.member},
                       {"attested", p.attested},
                       {"attestation_reason", p.attestation_reason},
                       {"connected", p.connected},
                       {"vms", std::move(vms)}});
    }
    tvds.push_back({{"name", tvd.name},
                    {"known_to_master", tvd.known_to_master},
                    {"id", tvd.known_to_master ? json(tvd.id) : json()},
                    {"epoch", tvd.known_to_master ? json(tvd.epoch) : json()},
                    {"networks", tvd.networks},
                    {"hosts", std::move(hosts)}});
  }
  json hosts = json::array();
  for (const HostView& h : o.hosts) {
    json domains = json::array();
    for (const DomainView& d : h.domains) {
      domains.push_back({{"name", d.name}, {"state", d.state}, {"tvd", d.tvd}});
    }
    hosts.push_back({{"name", h.name},
                     {"known_to_master", h.known_to_master},
                     {"known_to_rm", h.known_to_rm},
                     {"up", h.up},
                     {"attested", h.attested},
                     {"attestation_reason", h.attestation_reason},
                     {"attested_at", h.attested_at},
                     {"underlay", h.underlay},
                     {"tvds", h.tvds},
                     {"resources", Resources(h.resources)},
                     {"domains", std::move(domains)}});
  }
  return json{{"version", kOverviewJsonVersion},
              {"generated_at", o.generated_at},
              {"sources", {{"master", Source(o.master)}, {"rm", Source(o.rm)}}},
              {"totals",
               {{"tvds", t.tvds},
                {"hosts", t.hosts},
                {"hosts_up", t.hosts_up},
                {"vms", t.vms},
                {"free_vcpus", t.free_vcpus},
                {"free_mem_kib", t.free_mem_kib}}},
              {"tvds", std::move(tvds)},
              {"hosts", std::move(hosts)}};
}

}  // namespace tvd::overview
