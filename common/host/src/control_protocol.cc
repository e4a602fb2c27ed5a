#include "tvd/host/control_protocol.h"

#include <set>

namespace tvd::host {

namespace {

using nlohmann::json;

constexpr struct {
  ControlOp op;
  std::string_view name;
} kOps[] = {{ControlOp::kJoin, "join"},     {ControlOp::kLeave, "leave"},
            {ControlOp::kAttach, "attach"}, {ControlOp::kDetach, "detach"},
            {ControlOp::kStatus, "status"}, {ControlOp::kUsage, "usage"}};

StatusOr<json> ParseObject(std::string_view body, std::string_view what) {
  if (body.size() > kMaxControlFrameBytes) {
    return InvalidArgument(std::string(what) + ": " +
                           std::to_string(body.size()) +
                           " bytes, more than the limit of " +
                           std::to_string(kMaxControlFrameBytes));
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return InvalidArgument(std::string(what) + ": not valid JSON");
  }
  if (!j.is_object()) {
    return InvalidArgument(std::string(what) + ": not a JSON object");
  }
  return j;
}

StatusOr<std::string> StringField(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return InvalidArgument(std::string("request: missing field '") + key + "'");
  }
  if (!it->is_string()) {
    return InvalidArgument(std::string("request: field '") + key +
                           "' must be a string");
  }
  return it->get<std::string>();
}

json AmountsJson(const policy::QuotaAmounts& a) {
  return {{"domains", a.domains},
          {"vcpus", a.vcpus},
          {"memory_kib", a.memory_kib},
          {"disk_bytes", a.disk_bytes}};
}

StatusOr<policy::QuotaAmounts> AmountsField(const json& j, const char* key) {
  auto it = j.find(key);
  const std::string where = std::string("request: field '") + key + "'";
  if (it == j.end()) {
    return InvalidArgument(std::string("request: missing field '") + key + "'");
  }
  if (!it->is_object() || it->size() != 4) {
    return InvalidArgument(where +
                           " must be an object of exactly domains, vcpus, "
                           "memory_kib, disk_bytes");
  }
  policy::QuotaAmounts a;
  for (auto [name, out] :
       {std::pair{"domains", &a.domains}, std::pair{"vcpus", &a.vcpus},
        std::pair{"memory_kib", &a.memory_kib},
        std::pair{"disk_bytes", &a.disk_bytes}}) {
    auto v = it->find(name);
    if (v == it->end() || !v->is_number_unsigned()) {
      return InvalidArgument(where + ": '" + name +
                             "' must be an unsigned integer");
    }
    *out = v->get<std::uint64_t>();
  }
  return a;
}

}  // namespace

std::string_view ControlOpName(ControlOp op) {
  for (const auto& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "unknown";
}

bool IsValidControlName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  if (name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string EncodeRequest(const ControlRequest& request) {
  json j = {{"op", ControlOpName(request.op)}};
  if (!request.tvd.empty()) j["tvd"] = request.tvd;
  if (request.op == ControlOp::kAttach) j["vm_config"] = request.vm_config;
  if (request.op == ControlOp::kDetach) j["vm"] = request.vm;
  if (request.op == ControlOp::kUsage) {
    j["held"] = AmountsJson(request.held);
    j["adds"] = AmountsJson(request.adds);
  }
  return j.dump();
}

StatusOr<ControlRequest> DecodeRequest(std::string_view body) {
  TVD_ASSIGN_OR_RETURN(json j, ParseObject(body, "request"));
  TVD_ASSIGN_OR_RETURN(std::string op_name, StringField(j, "op"));
  ControlRequest req;
  bool known = false;
  for (const auto& o : kOps) {
    if (o.name == op_name) {
      req.op = o.op;
      known = true;
    }
  }
  if (!known) {
    return InvalidArgument("request: unknown op '" + op_name.substr(0, 32) +
                           "' (expected join, leave, attach, detach, "
                           "status or usage)");
  }
  std::set<std::string> allowed = {"op"};
  bool tvd_required = req.op != ControlOp::kStatus;
  if (tvd_required || j.contains("tvd")) {
    allowed.insert("tvd");
    TVD_ASSIGN_OR_RETURN(req.tvd, StringField(j, "tvd"));
    if (!IsValidControlName(req.tvd)) {
      return InvalidArgument(
          "request: field 'tvd' is not a valid TVD name (1-64 of "
          "A-Z a-z 0-9 _ . -, not starting with '.' or '-')");
    }
  }
  if (req.op == ControlOp::kAttach) {
    allowed.insert("vm_config");
    TVD_ASSIGN_OR_RETURN(req.vm_config, StringField(j, "vm_config"));
    if (req.vm_config.empty() || req.vm_config[0] != '/' ||
        req.vm_config.size() > kMaxPathLength ||
        req.vm_config.find('\0') != std::string::npos) {
      return InvalidArgument(
          "request: field 'vm_config' must be an absolute path of at most " +
          std::to_string(kMaxPathLength) + " bytes without NUL");
    }
  }
  if (req.op == ControlOp::kDetach) {
    allowed.insert("vm");
    TVD_ASSIGN_OR_RETURN(req.vm, StringField(j, "vm"));
    if (!IsValidControlName(req.vm)) {
      return InvalidArgument("request: field 'vm' is not a valid VM name");
    }
  }
  if (req.op == ControlOp::kUsage) {
    allowed.insert({"held", "adds"});
    TVD_ASSIGN_OR_RETURN(req.held, AmountsField(j, "held"));
    TVD_ASSIGN_OR_RETURN(req.adds, AmountsField(j, "adds"));
  }
  for (const auto& [key, value] : j.items()) {
    if (!allowed.contains(key)) {
      return InvalidArgument("request: unexpected field '" + key.substr(0, 32) +
                             "' for op '" + op_name + "'");
    }
  }
  return req;
}

std::string EncodeResponse(const ControlResponse& response) {
  json j;
  if (response.status.ok()) {
    j["ok"] = true;
    j["result"] =
        response.result.is_object() ? response.result : json::object();
  } else {
    j["ok"] = false;
    j["error"] = {{"code", ErrorCodeName(response.status.code())},
                  {"message", response.status.message()}};
  }
  // Replace invalid UTF-8 rather than throwing on it.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusOr<ControlResponse> DecodeResponse(std::string_view body) {
  TVD_ASSIGN_OR_RETURN(json j, ParseObject(body, "response"));
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) {
    return ProtocolError("response: missing boolean 'ok'");
  }
  ControlResponse r;
  if (ok->get<bool>()) {
    auto res = j.find("result");
    if (res == j.end() || !res->is_object()) {
      return ProtocolError("response: missing object 'result'");
    }
    r.result = *res;
    return r;
  }
  auto err = j.find("error");
  if (err == j.end() || !err->is_object() || !err->contains("code") ||
      !(*err)["code"].is_string() || !err->contains("message") ||
      !(*err)["message"].is_string()) {
    return ProtocolError("response: malformed 'error'");
  }
  ErrorCode code = ErrorCodeFromName((*err)["code"].get<std::string>());
  r.status = Status(code, (*err)["message"].get<std::string>());
  return r;
}

std::string Frame(std::string_view body) {
  std::string out;
  const auto n = static_cast<std::uint32_t>(body.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(body);
  return out;
}

}  // namespace tvd::host
