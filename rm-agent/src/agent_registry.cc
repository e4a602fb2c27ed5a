#include "tvd/rm/agent_registry.h"

namespace tvd::rm {

namespace {

using nlohmann::json;

json StatusJson(const std::optional<NodeStatus>& s) {
  if (!s) return nullptr;
  return json{{"cpus", s->cpus},
              {"load1", s->load1},
              {"mem_total_kib", s->mem_total_kib},
              {"mem_free_kib", s->mem_free_kib},
              {"free_vcpus", s->free_vcpus},
              {"free_mem_kib", s->free_mem_kib}};
}

json DomainJson(const DomainInfo& d) {
  return json{{"name", d.name},
              {"uuid", d.uuid},
              {"state", d.state},
              {"tvd", d.tvd},
              {"networks", d.networks}};
}

}  // namespace

StatusOr<ApplyResult> AgentRegistry::Apply(const std::string& host,
                                           const AgentMessage& message,
                                           Clock::time_point now) {
  if (const auto* reg = std::get_if<RegisterMsg>(&message)) {
    if (reg->host != host) {
      return PermissionDenied("agent '" + host + "' tried to register as '" +
                              reg->host + "'");
    }
    AgentRecord& rec = agents_[host];
    rec = AgentRecord{};
    rec.host = host;
    rec.properties = reg->properties;
    rec.registered_at = now;
    rec.last_seen = now;
    return ApplyResult::kApplied;
  }
  auto it = agents_.find(host);
  if (it == agents_.end()) return ApplyResult::kNotRegistered;
  AgentRecord& rec = it->second;
  if (std::holds_alternative<UnregisterMsg>(message)) {
    agents_.erase(it);
    return ApplyResult::kApplied;
  }
  rec.last_seen = now;
  rec.up = true;
  if (const auto* st = std::get_if<StatusMsg>(&message)) {
    rec.status = st->status;
    ++rec.status_updates;
  } else if (const auto* doms = std::get_if<DomainsMsg>(&message)) {
    rec.domains = doms->domains;
  }
  return ApplyResult::kApplied;
}

AgentRegistry::SweepResult AgentRegistry::Sweep(Clock::time_point now) {
  SweepResult result;
  const auto down_after =
      policy_.heartbeat_interval * std::max(1, policy_.missed_heartbeats);
  for (auto it = agents_.begin(); it != agents_.end();) {
    const auto silent = now - it->second.last_seen;
    if (silent >= policy_.expiry) {
      result.expired.push_back(it->first);
      it = agents_.erase(it);
      continue;
    }
    if (it->second.up && silent >= down_after) {
      it->second.up = false;
      result.went_down.push_back(it->first);
    }
    ++it;
  }
  return result;
}

const AgentRecord* AgentRegistry::Find(const std::string& host) const {
  auto it = agents_.find(host);
  return it == agents_.end() ? nullptr : &it->second;
}

StatusOr<json> AgentRegistry::Query(const QueryRequest& request,
                                    Clock::time_point now) const {
  using Kind = QueryRequest::Kind;
  if (request.kind == Kind::kAgents || request.kind == Kind::kSnapshot) {
    json list = json::array();
    for (const auto& [host, rec] : agents_) {
      json entry{{"host", host},
                 {"up", rec.up},
                 {"properties", rec.properties},
                 {"last_seen_ms_ago",
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      now - rec.last_seen)
                      .count()}};
      if (request.kind == Kind::kSnapshot) {
        entry["status"] = StatusJson(rec.status);
        json doms = json::array();
        for (const DomainInfo& d : rec.domains) doms.push_back(DomainJson(d));
        entry["domains"] = std::move(doms);
      }
      list.push_back(std::move(entry));
    }
    return list;
  }
  const AgentRecord* rec = Find(request.host);
  if (rec == nullptr) return NotFound("no agent '" + request.host + "'");
  switch (request.kind) {
    case Kind::kNode:
      return json{{"host", rec->host},
                  {"up", rec->up},
                  {"status", StatusJson(rec->status)}};
    case Kind::kDomains: {
      json doms = json::array();
      for (const DomainInfo& d : rec->domains) doms.push_back(DomainJson(d));
      return doms;
    }
    case Kind::kNetworks:
      for (const DomainInfo& d : rec->domains) {
        if (d.name == request.domain) return json(d.networks);
      }
      return NotFound("no domain '" + request.domain + "' on '" + request.host +
                      "'");
    default:
      return Internal("unhandled query kind");
  }
}

std::string EncodeQueryReply(const StatusOr<json>& result) {
  json reply;
  reply["v"] = kProtocolVersion;
  reply["ok"] = result.ok();
  if (result.ok()) {
    reply["result"] = result.value();
  } else {
    reply["error"] =
        json{{"code", std::string(ErrorCodeName(result.status().code()))},
             {"message", result.status().message()}};
  }
  return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace tvd::rm
