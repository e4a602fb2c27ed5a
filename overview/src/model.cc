#include "tvd/overview/model.h"

#include <algorithm>
#include <set>

namespace tvd::overview {

namespace {

using nlohmann::json;

// Strict field access with the JSON path in every error. `where` is the
// source's prefix ("master tvds reply").
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  Status Fail(const std::string& path, const std::string& why) const {
    return ProtocolError(where_ + ": " + path + ": " + why);
  }

  StatusOr<const json*> Field(const json& obj, const std::string& path,
                              const char* key) const {
    if (!obj.is_object()) return Fail(path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) return Fail(path + "." + key, "missing");
    return &*it;
  }

  StatusOr<std::string> String(const json& obj, const std::string& path,
                               const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_string()) return Fail(path + "." + key, "expected a string");
    return v->get<std::string>();
  }

  // A string, or null meaning "".
  StatusOr<std::string> OptionalString(const json& obj, const std::string& path,
                                       const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (v->is_null()) return std::string();
    if (!v->is_string()) return Fail(path + "." + key, "expected a string");
    return v->get<std::string>();
  }

  StatusOr<bool> Bool(const json& obj, const std::string& path,
                      const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_boolean()) return Fail(path + "." + key, "expected a boolean");
    return v->get<bool>();
  }

  StatusOr<std::int64_t> Int(const json& obj, const std::string& path,
                             const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (v->is_number_unsigned()) {
      if (v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        return Fail(path + "." + key, "integer out of range");
      }
      return static_cast<std::int64_t>(v->get<std::uint64_t>());
    }
    if (!v->is_number_integer()) {
      return Fail(path + "." + key, "expected an integer");
    }
    return v->get<std::int64_t>();
  }

  StatusOr<std::uint64_t> Unsigned(const json& obj, const std::string& path,
                                   const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_number_unsigned()) {
      return Fail(path + "." + key, "expected a non-negative integer");
    }
    return v->get<std::uint64_t>();
  }

  StatusOr<double> Number(const json& obj, const std::string& path,
                          const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_number()) return Fail(path + "." + key, "expected a number");
    return v->get<double>();
  }

  StatusOr<const json*> Array(const json& obj, const std::string& path,
                              const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_array()) return Fail(path + "." + key, "expected an array");
    return v;
  }

  StatusOr<std::vector<std::string>> Strings(const json& obj,
                                             const std::string& path,
                                             const char* key) const {
    TVD_ASSIGN_OR_RETURN(const json* a, Array(obj, path, key));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (!(*a)[i].is_string()) {
        return Fail(path + "." + key + "[" + std::to_string(i) + "]",
                    "expected a string");
      }
      out.push_back((*a)[i].get<std::string>());
    }
    return out;
  }

 private:
  std::string where_;
};

std::string Index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

StatusOr<MasterTvd> DecodeTvd(const Reader& r, const json& t,
                              const std::string& p) {
  MasterTvd tvd;
  TVD_ASSIGN_OR_RETURN(tvd.name, r.String(t, p, "name"));
  TVD_ASSIGN_OR_RETURN(tvd.id, r.Int(t, p, "id"));
  TVD_ASSIGN_OR_RETURN(tvd.epoch, r.Unsigned(t, p, "epoch"));
  TVD_ASSIGN_OR_RETURN(tvd.digest, r.String(t, p, "digest"));
  TVD_ASSIGN_OR_RETURN(const json* nets, r.Array(t, p, "networks"));
  for (std::size_t i = 0; i < nets->size(); ++i) {
    TVD_ASSIGN_OR_RETURN(
        std::string n, r.String((*nets)[i], Index(p + ".networks", i), "name"));
    tvd.networks.push_back(std::move(n));
  }
  TVD_ASSIGN_OR_RETURN(const json* members, r.Array(t, p, "members"));
  for (std::size_t i = 0; i < members->size(); ++i) {
    const json& m = (*members)[i];
    const std::string mp = Index(p + ".members", i);
    MasterMember member;
    TVD_ASSIGN_OR_RETURN(member.host, r.String(m, mp, "host"));
    TVD_ASSIGN_OR_RETURN(member.underlay, r.String(m, mp, "underlay"));
    TVD_ASSIGN_OR_RETURN(member.attested, r.Bool(m, mp, "attested"));
    TVD_ASSIGN_OR_RETURN(member.attestation_reason,
                         r.String(m, mp, "attestation_reason"));
    TVD_ASSIGN_OR_RETURN(member.attested_at, r.Int(m, mp, "attested_at"));
    TVD_ASSIGN_OR_RETURN(member.connected, r.Bool(m, mp, "connected"));
    tvd.members.push_back(std::move(member));
  }
  TVD_ASSIGN_OR_RETURN(const json* vms, r.Array(t, p, "vms"));
  for (std::size_t i = 0; i < vms->size(); ++i) {
    const std::string vp = Index(p + ".vms", i);
    MasterVm vm;
    TVD_ASSIGN_OR_RETURN(vm.vm, r.String((*vms)[i], vp, "vm"));
    TVD_ASSIGN_OR_RETURN(vm.host, r.String((*vms)[i], vp, "host"));
    tvd.vms.push_back(std::move(vm));
  }
  return tvd;
}

template <typename T>
void SortAndUnique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

StatusOr<MasterState> DecodeMasterState(const json& tvds_reply,
                                        const json& hosts_reply) {
  MasterState state;
  {
    Reader r("master tvds reply");
    TVD_ASSIGN_OR_RETURN(const json* tvds, r.Array(tvds_reply, "$", "tvds"));
    for (std::size_t i = 0; i < tvds->size(); ++i) {
      TVD_ASSIGN_OR_RETURN(MasterTvd t,
                           DecodeTvd(r, (*tvds)[i], Index("$.tvds", i)));
      state.tvds.push_back(std::move(t));
    }
  }
  Reader r("master hosts reply");
  TVD_ASSIGN_OR_RETURN(const json* hosts, r.Array(hosts_reply, "$", "hosts"));
  for (std::size_t i = 0; i < hosts->size(); ++i) {
    const json& h = (*hosts)[i];
    const std::string p = Index("$.hosts", i);
    MasterHost host;
    TVD_ASSIGN_OR_RETURN(host.name, r.String(h, p, "name"));
    TVD_ASSIGN_OR_RETURN(host.underlay, r.String(h, p, "underlay"));
    TVD_ASSIGN_OR_RETURN(host.attested, r.Bool(h, p, "attested"));
    TVD_ASSIGN_OR_RETURN(host.attestation_reason,
                         r.String(h, p, "attestation_reason"));
    TVD_ASSIGN_OR_RETURN(host.attested_at, r.Int(h, p, "attested_at"));
    TVD_ASSIGN_OR_RETURN(host.tvds, r.Strings(h, p, "tvds"));
    state.hosts.push_back(std::move(host));
  }
  return state;
}

StatusOr<RmState> DecodeRmSnapshot(const json& snapshot) {
  Reader r("rm-server snapshot");
  if (!snapshot.is_array()) return r.Fail("$", "expected an array");
  RmState state;
  for (std::size_t i = 0; i < snapshot.size(); ++i) {
    const json& a = snapshot[i];
    const std::string p = Index("$", i);
    RmHost host;
    TVD_ASSIGN_OR_RETURN(host.host, r.String(a, p, "host"));
    TVD_ASSIGN_OR_RETURN(host.up, r.Bool(a, p, "up"));
    TVD_ASSIGN_OR_RETURN(const json* props, r.Field(a, p, "properties"));
    if (!props->is_object()) {
      return r.Fail(p + ".properties", "expected an object");
    }
    for (const auto& [k, v] : props->items()) {
      if (!v.is_string()) {
        return r.Fail(p + ".properties." + k, "expected a string");
      }
      host.properties[k] = v.get<std::string>();
    }
    TVD_ASSIGN_OR_RETURN(const json* status, r.Field(a, p, "status"));
    if (!status->is_null()) {
      const std::string sp = p + ".status";
      NodeResources res;
      TVD_ASSIGN_OR_RETURN(res.cpus, r.Int(*status, sp, "cpus"));
      TVD_ASSIGN_OR_RETURN(res.load1, r.Number(*status, sp, "load1"));
      TVD_ASSIGN_OR_RETURN(res.mem_total_kib,
                           r.Unsigned(*status, sp, "mem_total_kib"));
      TVD_ASSIGN_OR_RETURN(res.mem_free_kib,
                           r.Unsigned(*status, sp, "mem_free_kib"));
      TVD_ASSIGN_OR_RETURN(res.free_vcpus, r.Int(*status, sp, "free_vcpus"));
      TVD_ASSIGN_OR_RETURN(res.free_mem_kib,
                           r.Unsigned(*status, sp, "free_mem_kib"));
      host.resources = res;
    }
    TVD_ASSIGN_OR_RETURN(const json* doms, r.Array(a, p, "domains"));
    for (std::size_t d = 0; d < doms->size(); ++d) {
      const json& dj = (*doms)[d];
      const std::string dp = Index(p + ".domains", d);
      RmDomain dom;
      TVD_ASSIGN_OR_RETURN(dom.name, r.String(dj, dp, "name"));
      TVD_ASSIGN_OR_RETURN(dom.uuid, r.String(dj, dp, "uuid"));
      TVD_ASSIGN_OR_RETURN(dom.state, r.String(dj, dp, "state"));
      TVD_ASSIGN_OR_RETURN(dom.tvd, r.OptionalString(dj, dp, "tvd"));
      TVD_ASSIGN_OR_RETURN(dom.networks, r.Strings(dj, dp, "networks"));
      host.domains.push_back(std::move(dom));
    }
    state.hosts.push_back(std::move(host));
  }
  return state;
}

Overview MergeOverview(const MasterState* master, SourceState master_source,
                       const RmState* rm, SourceState rm_source,
                       std::int64_t generated_at) {
  Overview o;
  o.generated_at = generated_at;
  o.master = std::move(master_source);
  o.rm = std::move(rm_source);

  std::map<std::string, TvdView> tvds;
  std::map<std::string, HostView> hosts;
  // (tvd, host) -> the host's part, filled from both sides.
  std::map<std::pair<std::string, std::string>, TvdOnHost> parts;
  // (tvd, host, vm) -> placement.
  std::map<std::tuple<std::string, std::string, std::string>, VmPlacement> vms;
  auto host = [&](const std::string& name) -> HostView& {
    HostView& h = hosts[name];
    h.name = name;
    return h;
  };
  auto part = [&](const std::string& tvd,
                  const std::string& host_name) -> TvdOnHost& {
    TvdOnHost& p = parts[{tvd, host_name}];
    p.host = host_name;
    return p;
  };

  if (master != nullptr) {
    for (const MasterHost& mh : master->hosts) {
      HostView& h = host(mh.name);
      h.known_to_master = true;
      h.attested = mh.attested;
      h.attestation_reason = mh.attestation_reason;
      h.attested_at = mh.attested_at;
      h.underlay = mh.underlay;
      h.tvds.insert(h.tvds.end(), mh.tvds.begin(), mh.tvds.end());
    }
    for (const MasterTvd& mt : master->tvds) {
      TvdView& t = tvds[mt.name];
      t.name = mt.name;
      t.known_to_master = true;
      t.id = mt.id;
      t.epoch = mt.epoch;
      t.networks = mt.networks;
      for (const MasterMember& m : mt.members) {
        TvdOnHost& p = part(mt.name, m.host);
        p.member = true;
        p.attested = m.attested;
        p.attestation_reason = m.attestation_reason;
        p.connected = m.connected;
        HostView& h = host(m.host);
        h.known_to_master = true;
        h.tvds.push_back(mt.name);
        if (h.underlay.empty()) h.underlay = m.underlay;
      }
      for (const MasterVm& v : mt.vms) {
        part(mt.name, v.host);
        VmPlacement& vm = vms[{mt.name, v.host, v.vm}];
        vm.name = v.vm;
        vm.reported = true;
        host(v.host);
      }
    }
  }
  if (rm != nullptr) {
    for (const RmHost& rh : rm->hosts) {
      HostView& h = host(rh.host);
      h.known_to_rm = true;
      h.up = rh.up;
      h.resources = rh.resources;
      for (const RmDomain& d : rh.domains) {
        h.domains.push_back({d.name, d.state, d.tvd});
        if (d.tvd.empty()) continue;
        h.tvds.push_back(d.tvd);
        TvdView& t = tvds[d.tvd];
        t.name = d.tvd;
        part(d.tvd, rh.host);
        VmPlacement& vm = vms[{d.tvd, rh.host, d.name}];
        vm.name = d.name;
        vm.state = d.state;
        vm.seen_on_host = true;
      }
    }
  }

  for (auto& [key, vm] : vms) {
    parts[{std::get<0>(key), std::get<1>(key)}].vms.push_back(vm);
  }
  for (auto& [key, p] : parts) {
    tvds[key.first].hosts.push_back(std::move(p));  // map order: by host
  }
  for (auto& [name, t] : tvds) o.tvds.push_back(std::move(t));
  for (auto& [name, h] : hosts) {
    SortAndUnique(h.tvds);
    std::sort(h.domains.begin(), h.domains.end(),
              [](const DomainView& a, const DomainView& b) {
                return a.name < b.name;
              });
    o.hosts.push_back(std::move(h));
  }
  return o;
}

Totals ComputeTotals(const Overview& overview) {
  Totals t;
  t.tvds = overview.tvds.size();
  t.hosts = overview.hosts.size();
  for (const HostView& h : overview.hosts) {
    if (h.up) ++t.hosts_up;
    if (h.up && h.resources) {
      // Saturating: the figures come from the network.
      if (__builtin_add_overflow(
              t.free_vcpus, std::max<std::int64_t>(0, h.resources->free_vcpus),
              &t.free_vcpus)) {
        t.free_vcpus = INT64_MAX;
      }
      if (__builtin_add_overflow(t.free_mem_kib, h.resources->free_mem_kib,
                                 &t.free_mem_kib)) {
        t.free_mem_kib = UINT64_MAX;
      }
    }
  }
  for (const TvdView& tvd : overview.tvds) {
    for (const TvdOnHost& p : tvd.hosts) t.vms += p.vms.size();
  }
  return t;
}

}  // namespace tvd::overview
