#include "tvd/rm/messages.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace tvd::rm {

namespace {

using nlohmann::json;

Status Bad(std::string_view where, std::string_view why) {
  return InvalidArgument("rm message: " + std::string(where) + ": " +
                         std::string(why));
}

// Checks that `obj` has exactly the fields in `allowed` (all required).
Status ExactFields(const json& obj, std::string_view where,
                   std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object()) return Bad(where, "not an object");
  for (std::string_view name : allowed) {
    if (!obj.contains(std::string(name))) {
      return Bad(where, "missing field '" + std::string(name) + "'");
    }
  }
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) {
      return Bad(where,
                 "unknown field '" + key.substr(0, kMaxStringBytes) + "'");
    }
  }
  return Status::Ok();
}

StatusOr<std::string> GetString(const json& obj, const char* field,
                                std::string_view where) {
  const json& v = obj.at(field);
  if (!v.is_string()) {
    return Bad(std::string(where) + "." + field, "not a string");
  }
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() > kMaxStringBytes) {
    return Bad(std::string(where) + "." + field, "longer than 256 bytes");
  }
  return s;
}

StatusOr<std::uint64_t> GetCount(const json& obj, const char* field,
                                 std::string_view where) {
  const json& v = obj.at(field);
  if (!v.is_number_unsigned()) {
    return Bad(std::string(where) + "." + field, "not a non-negative integer");
  }
  return v.get<std::uint64_t>();
}

StatusOr<double> GetLoad(const json& obj, const char* field,
                         std::string_view where) {
  const json& v = obj.at(field);
  if (!v.is_number())
    return Bad(std::string(where) + "." + field, "not a number");
  double d = v.get<double>();
  if (!(d >= 0) || d > 1e9) {
    return Bad(std::string(where) + "." + field, "out of range");
  }
  return d;
}

StatusOr<json> ParseObject(std::string_view bytes) {
  if (bytes.size() > kMaxMessageBytes) {
    return Bad("message",
               "larger than " + std::to_string(kMaxMessageBytes) + " bytes");
  }
  // Our messages nest at most 4 deep; refusing deeper input before parsing
  // keeps a hostile 256 KiB of brackets from costing the server real time.
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return Bad("message", "nested too deeply");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  json doc = json::parse(bytes.begin(), bytes.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad("message", "not valid JSON");
  if (!doc.is_object()) return Bad("message", "not a JSON object");
  auto v = doc.find("v");
  if (v == doc.end()) return Bad("message", "missing field 'v'");
  if (!v->is_number_integer() || v->get<std::int64_t>() != kProtocolVersion) {
    return Bad("message.v", "unsupported version (expected 1)");
  }
  return doc;
}

json StatusToJson(const NodeStatus& s) {
  return json{{"cpus", s.cpus},
              {"load1", s.load1},
              {"mem_total_kib", s.mem_total_kib},
              {"mem_free_kib", s.mem_free_kib},
              {"free_vcpus", s.free_vcpus},
              {"free_mem_kib", s.free_mem_kib}};
}

StatusOr<NodeStatus> StatusFromJson(const json& j) {
  constexpr std::string_view kWhere = "status";
  TVD_RETURN_IF_ERROR(
      ExactFields(j, kWhere,
                  {"cpus", "load1", "mem_total_kib", "mem_free_kib",
                   "free_vcpus", "free_mem_kib"}));
  NodeStatus s;
  TVD_ASSIGN_OR_RETURN(s.cpus, GetCount(j, "cpus", kWhere));
  TVD_ASSIGN_OR_RETURN(s.load1, GetLoad(j, "load1", kWhere));
  TVD_ASSIGN_OR_RETURN(s.mem_total_kib, GetCount(j, "mem_total_kib", kWhere));
  TVD_ASSIGN_OR_RETURN(s.mem_free_kib, GetCount(j, "mem_free_kib", kWhere));
  TVD_ASSIGN_OR_RETURN(s.free_vcpus, GetCount(j, "free_vcpus", kWhere));
  TVD_ASSIGN_OR_RETURN(s.free_mem_kib, GetCount(j, "free_mem_kib", kWhere));
  return s;
}

StatusOr<DomainInfo> DomainFromJson(const json& j, std::size_t index) {
  const std::string where = "domains[" + std::to_string(index) + "]";
  TVD_RETURN_IF_ERROR(
      ExactFields(j, where, {"name", "uuid", "state", "tvd", "networks"}));
  DomainInfo d;
  TVD_ASSIGN_OR_RETURN(d.name, GetString(j, "name", where));
  if (d.name.empty()) return Bad(where + ".name", "empty");
  TVD_ASSIGN_OR_RETURN(d.uuid, GetString(j, "uuid", where));
  TVD_ASSIGN_OR_RETURN(d.state, GetString(j, "state", where));
  TVD_ASSIGN_OR_RETURN(d.tvd, GetString(j, "tvd", where));
  const json& nets = j.at("networks");
  if (!nets.is_array()) return Bad(where + ".networks", "not an array");
  if (nets.size() > kMaxNetworksPerDomain) {
    return Bad(where + ".networks", "more than 64 networks");
  }
  for (const json& n : nets) {
    if (!n.is_string()) return Bad(where + ".networks", "not a string");
    const std::string& s = n.get_ref<const std::string&>();
    if (s.empty() || s.size() > kMaxStringBytes) {
      return Bad(where + ".networks", "empty or longer than 256 bytes");
    }
    d.networks.push_back(s);
  }
  return d;
}

}  // namespace

std::string EncodeAgentMessage(const AgentMessage& message) {
  json j;
  j["v"] = kProtocolVersion;
  if (const auto* m = std::get_if<RegisterMsg>(&message)) {
    j["type"] = "register";
    j["host"] = m->host;
    j["properties"] = json::object();
    for (const auto& [k, v] : m->properties) j["properties"][k] = v;
  } else if (const auto* m = std::get_if<StatusMsg>(&message)) {
    j["type"] = "status";
    j["status"] = StatusToJson(m->status);
  } else if (const auto* m = std::get_if<DomainsMsg>(&message)) {
    j["type"] = "domains";
    j["domains"] = json::array();
    for (const DomainInfo& d : m->domains) {
      j["domains"].push_back(json{{"name", d.name},
                                  {"uuid", d.uuid},
                                  {"state", d.state},
                                  {"tvd", d.tvd},
                                  {"networks", d.networks}});
    }
  } else if (std::holds_alternative<HeartbeatMsg>(message)) {
    j["type"] = "heartbeat";
  } else {
    j["type"] = "unregister";
  }
  // Replace invalid UTF-8 rather than throw: names come from libvirt.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusOr<AgentMessage> DecodeAgentMessage(std::string_view bytes) {
  TVD_ASSIGN_OR_RETURN(json doc, ParseObject(bytes));
  auto type_it = doc.find("type");
  if (type_it == doc.end()) return Bad("message", "missing field 'type'");
  if (!type_it->is_string()) return Bad("message.type", "not a string");
  const std::string type = type_it->get<std::string>();
  if (type == "register") {
    TVD_RETURN_IF_ERROR(
        ExactFields(doc, "register", {"v", "type", "host", "properties"}));
    RegisterMsg m;
    TVD_ASSIGN_OR_RETURN(m.host, GetString(doc, "host", "register"));
    if (m.host.empty()) return Bad("register.host", "empty");
    const json& props = doc.at("properties");
    if (!props.is_object()) return Bad("register.properties", "not an object");
    if (props.size() > kMaxProperties) {
      return Bad("register.properties", "more than 64 properties");
    }
    for (const auto& [k, v] : props.items()) {
      if (k.empty() || k.size() > kMaxStringBytes) {
        return Bad("register.properties", "key empty or longer than 256 bytes");
      }
      if (!v.is_string()) {
        return Bad("register.properties." + k, "not a string");
      }
      if (v.get_ref<const std::string&>().size() > kMaxStringBytes) {
        return Bad("register.properties." + k, "longer than 256 bytes");
      }
      m.properties[k] = v.get<std::string>();
    }
    return AgentMessage(std::move(m));
  }
  if (type == "status") {
    TVD_RETURN_IF_ERROR(ExactFields(doc, "status", {"v", "type", "status"}));
    TVD_ASSIGN_OR_RETURN(NodeStatus s, StatusFromJson(doc.at("status")));
    return AgentMessage(StatusMsg{s});
  }
  if (type == "domains") {
    TVD_RETURN_IF_ERROR(ExactFields(doc, "domains", {"v", "type", "domains"}));
    const json& list = doc.at("domains");
    if (!list.is_array()) return Bad("domains.domains", "not an array");
    if (list.size() > kMaxDomains) {
      return Bad("domains.domains", "more than 512 domains");
    }
    DomainsMsg m;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
      TVD_ASSIGN_OR_RETURN(DomainInfo d, DomainFromJson(list[i], i));
      if (!names.insert(d.name).second) {
        return Bad("domains[" + std::to_string(i) + "].name",
                   "duplicate domain '" + d.name + "'");
      }
      m.domains.push_back(std::move(d));
    }
    return AgentMessage(std::move(m));
  }
  if (type == "heartbeat") {
    TVD_RETURN_IF_ERROR(ExactFields(doc, "heartbeat", {"v", "type"}));
    return AgentMessage(HeartbeatMsg{});
  }
  if (type == "unregister") {
    TVD_RETURN_IF_ERROR(ExactFields(doc, "unregister", {"v", "type"}));
    return AgentMessage(UnregisterMsg{});
  }
  return Bad("message.type", "unknown type '" + type.substr(0, 64) + "'");
}

std::string EncodeReregisterNotice() {
  return R"({"type":"reregister","v":1})";
}

bool IsReregisterNotice(std::string_view bytes) {
  return bytes == EncodeReregisterNotice();
}

std::string EncodeQueryRequest(const QueryRequest& request) {
  json j;
  j["v"] = kProtocolVersion;
  switch (request.kind) {
    case QueryRequest::Kind::kAgents:
      j["query"] = "agents";
      break;
    case QueryRequest::Kind::kNode:
      j["query"] = "node";
      j["host"] = request.host;
      break;
    case QueryRequest::Kind::kDomains:
      j["query"] = "domains";
      j["host"] = request.host;
      break;
    case QueryRequest::Kind::kNetworks:
      j["query"] = "networks";
      j["host"] = request.host;
      j["domain"] = request.domain;
      break;
    case QueryRequest::Kind::kSnapshot:
      j["query"] = "snapshot";
      break;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusOr<QueryRequest> DecodeQueryRequest(std::string_view bytes) {
  TVD_ASSIGN_OR_RETURN(json doc, ParseObject(bytes));
  auto q = doc.find("query");
  if (q == doc.end()) return Bad("query", "missing field 'query'");
  if (!q->is_string()) return Bad("query.query", "not a string");
  const std::string name = q->get<std::string>();
  QueryRequest r;
  if (name == "agents" || name == "snapshot") {
    TVD_RETURN_IF_ERROR(ExactFields(doc, name, {"v", "query"}));
    r.kind = name == "agents" ? QueryRequest::Kind::kAgents
                              : QueryRequest::Kind::kSnapshot;
    return r;
  }
  if (name == "node" || name == "domains") {
    TVD_RETURN_IF_ERROR(ExactFields(doc, name, {"v", "query", "host"}));
    r.kind = name == "node" ? QueryRequest::Kind::kNode
                            : QueryRequest::Kind::kDomains;
    TVD_ASSIGN_OR_RETURN(r.host, GetString(doc, "host", name));
    return r;
  }
  if (name == "networks") {
    TVD_RETURN_IF_ERROR(
        ExactFields(doc, name, {"v", "query", "host", "domain"}));
    r.kind = QueryRequest::Kind::kNetworks;
    TVD_ASSIGN_OR_RETURN(r.host, GetString(doc, "host", name));
    TVD_ASSIGN_OR_RETURN(r.domain, GetString(doc, "domain", name));
    return r;
  }
  return Bad("query.query", "unknown query '" + name.substr(0, 64) + "'");
}

}  // namespace tvd::rm
