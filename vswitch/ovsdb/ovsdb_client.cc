#include "tvd/vswitch/ovsdb/ovsdb_client.h"

#include <thread>
#include <utility>

#include "tvd/log.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::vswitch {
namespace {

constexpr char kCfgMonitorId[] = "tvd-cur-cfg";

std::string Dump(const Json& v) {
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string StringMember(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

OvsdbClient::OvsdbClient(Options options)
    : options_(std::move(options)), decoder_(options_.max_message_bytes) {}

StatusOr<std::unique_ptr<OvsdbClient>> OvsdbClient::Connect(Options options) {
  std::unique_ptr<OvsdbClient> client(new OvsdbClient(std::move(options)));
  TVD_RETURN_IF_ERROR(client->Open());
  return client;
}

Status OvsdbClient::Open() {
  const std::string& where = options_.socket_path;
  if (where.starts_with("tcp:")) {
    std::string rest = where.substr(4);
    std::size_t colon = rest.rfind(':');
    std::string address =
        rest.substr(0, colon == std::string::npos ? 0 : colon);
    std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (address.size() >= 2 && address.front() == '[' &&
        address.back() == ']') {
      address = address.substr(1, address.size() - 2);
    }
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535) {
      return InvalidArgument("OVSDB remote '" + where + "' is not tcp:IP:PORT");
    }
    TVD_ASSIGN_OR_RETURN(
        stream_, UnixStream::ConnectTcp(
                     address, static_cast<std::uint16_t>(std::stoul(port)),
                     options_.call_timeout));
  } else {
    TVD_ASSIGN_OR_RETURN(stream_, UnixStream::Connect(where));
  }
  decoder_ = JsonRpcDecoder(options_.max_message_bytes);
  pending_.clear();
  return Status::Ok();
}

void OvsdbClient::Disconnect() {
  stream_.Close();
  pending_.clear();
}

Status OvsdbClient::Reconnect() {
  Disconnect();
  auto deadline = Clock::now() + options_.reconnect_timeout;
  Status last;
  while (true) {
    last = Open();
    if (last.ok()) break;
    if (Clock::now() >= deadline) {
      return Unavailable("reconnecting to OVSDB at " + options_.socket_path +
                         " failed: " + last.message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ++reconnects_;
  log::Info("reconnected to OVSDB at ", options_.socket_path);
  for (const auto& [id, m] : monitors_) {
    Status s = StartMonitor(id, m);
    if (!s.ok()) {
      Disconnect();
      return s.WithContext("re-issuing monitor '" + id + "'");
    }
  }
  return Status::Ok();
}

Status OvsdbClient::EnsureConnected() {
  if (!stream_.is_open()) return Reconnect();
  // Handle what has already arrived; this also notices a closed peer before
  // a request is written into a dead connection.
  while (true) {
    StatusOr<std::string> bytes = stream_.ReadSome(Clock::now());
    if (!bytes.ok()) {
      if (bytes.status().code() == ErrorCode::kTimeout) break;
      return Reconnect();
    }
    Status fed = decoder_.Feed(*bytes, &pending_);
    if (!fed.ok()) return Reconnect();
  }
  // What arrived stays in pending_; Pump handles it in order.
  return Status::Ok();
}

Status OvsdbClient::Handle(const JsonRpcMessage& msg) {
  using Kind = JsonRpcMessage::Kind;
  if (msg.kind == Kind::kRequest && msg.method == "echo") {
    ++echo_replies_;
    return stream_.WriteAll(EncodeJsonRpcResponse(msg.params, msg.id),
                            Clock::now() + options_.call_timeout);
  }
  if (msg.kind == Kind::kNotification && msg.method == "update") {
    if (msg.params.size() != 2 || !msg.params[0].is_string() ||
        !msg.params[1].is_object()) {
      return ProtocolError("OVSDB 'update' notification with bad params: " +
                           Dump(msg.params));
    }
    const std::string id = msg.params[0].get<std::string>();
    auto it = monitors_.find(id);
    if (it != monitors_.end() && it->second.handler) {
      it->second.handler(msg.params[1], false);
    }
    return Status::Ok();
  }
  if (msg.kind == Kind::kRequest) {
    // Unknown requests get a JSON-RPC error rather than silence, so the
    // server does not wait on us.
    Json reply = {{"result", nullptr},
                  {"error", "unknown method " + msg.method},
                  {"id", msg.id}};
    return stream_.WriteAll(Dump(reply), Clock::now() + options_.call_timeout);
  }
  // Stray responses (to requests whose caller gave up) are dropped.
  return Status::Ok();
}

StatusOr<JsonRpcMessage> OvsdbClient::Pump(std::int64_t id,
                                           Clock::time_point deadline) {
  bool read_once = false;
  while (true) {
    while (!pending_.empty()) {
      JsonRpcMessage msg = std::move(pending_.front());
      pending_.erase(pending_.begin());
      if (id >= 0 && msg.kind == JsonRpcMessage::Kind::kResponse &&
          msg.id.is_number_integer() && msg.id.get<std::int64_t>() == id) {
        return msg;
      }
      Status s = Handle(msg);
      if (!s.ok()) {
        Disconnect();
        return s;
      }
      read_once = true;
    }
    if (id < 0 && read_once) return JsonRpcMessage{};
    StatusOr<std::string> bytes = stream_.ReadSome(deadline);
    if (!bytes.ok()) {
      if (bytes.status().code() != ErrorCode::kTimeout) Disconnect();
      return bytes.status();
    }
    Status fed = decoder_.Feed(*bytes, &pending_);
    if (!fed.ok()) {
      // Messages decoded before the error are still handled first.
      if (pending_.empty()) {
        Disconnect();
        return fed.WithContext("from OVSDB at " + options_.socket_path);
      }
    }
  }
}

StatusOr<JsonRpcMessage> OvsdbClient::RoundTrip(const std::string& method,
                                                const Json& params,
                                                bool* sent) {
  *sent = false;
  std::int64_t id = next_id_++;
  auto deadline = Clock::now() + options_.call_timeout;
  TVD_RETURN_IF_ERROR(
      stream_.WriteAll(EncodeJsonRpcRequest(method, params, id), deadline));
  *sent = true;
  return Pump(id, deadline);
}

StatusOr<Json> OvsdbClient::Call(const std::string& method,
                                 const Json& params) {
  TVD_RETURN_IF_ERROR(EnsureConnected());
  bool sent = false;
  StatusOr<JsonRpcMessage> reply = RoundTrip(method, params, &sent);
  if (!reply.ok() && !sent) {
    // The request never fully reached the server: safe to retry once.
    Disconnect();
    TVD_RETURN_IF_ERROR(Reconnect());
    reply = RoundTrip(method, params, &sent);
  }
  if (!reply.ok()) {
    if (sent && reply.status().code() == ErrorCode::kUnavailable) {
      return Unavailable("connection to OVSDB lost after sending '" + method +
                         "'; outcome unknown: " + reply.status().message());
    }
    return reply.status().WithContext("OVSDB " + method);
  }
  if (!reply->error.is_null()) {
    return ProtocolError("OVSDB " + method + " failed: " + Dump(reply->error));
  }
  return std::move(reply->result);
}

StatusOr<Json> OvsdbClient::Transact(const std::string& database,
                                     const Json& operations) {
  if (!operations.is_array()) {
    return InvalidArgument("OVSDB operations must be a JSON array");
  }
  Json params = Json::array({database});
  for (const Json& op : operations) params.push_back(op);
  TVD_ASSIGN_OR_RETURN(Json results, Call("transact", params));
  if (!results.is_array()) {
    return ProtocolError("OVSDB transact result is not an array: " +
                         Dump(results));
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Json& r = results[i];
    if (!r.is_object() || !r.contains("error")) continue;
    std::string error = StringMember(r, "error");
    std::string details = StringMember(r, "details");
    if (i < operations.size()) {
      return FailedPrecondition(
          "OVSDB transaction failed at operation " + std::to_string(i) + " (" +
          StringMember(operations[i], "op") + " " +
          StringMember(operations[i], "table") + "): " + error +
          (details.empty() ? "" : ": " + details));
    }
    return FailedPrecondition("OVSDB transaction failed to commit: " + error +
                              (details.empty() ? "" : ": " + details));
  }
  if (results.size() < operations.size()) {
    return ProtocolError("OVSDB transact returned " +
                         std::to_string(results.size()) + " results for " +
                         std::to_string(operations.size()) + " operations");
  }
  return results;
}

StatusOr<Json> OvsdbClient::TransactAndWaitApplied(
    const Json& operations, std::chrono::milliseconds wait) {
  if (!operations.is_array()) {
    return InvalidArgument("OVSDB operations must be a JSON array");
  }
  TVD_RETURN_IF_ERROR(EnsureCfgMonitor());
  Json ops = operations;
  ops.push_back(
      ovsdb::Mutate("Open_vSwitch", ovsdb::WhereAll(),
                    Json::array({Json::array({"next_cfg", "+=", 1})})));
  ops.push_back(ovsdb::Select("Open_vSwitch", ovsdb::WhereAll(), {"next_cfg"}));
  TVD_ASSIGN_OR_RETURN(Json results, Transact("Open_vSwitch", ops));
  const Json& sel = results[operations.size() + 1];
  if (!sel.is_object() || !sel.contains("rows") || !sel["rows"].is_array() ||
      sel["rows"].size() != 1 || !sel["rows"][0].is_object() ||
      !sel["rows"][0].contains("next_cfg") ||
      !sel["rows"][0]["next_cfg"].is_number_integer()) {
    return ProtocolError("OVSDB did not return Open_vSwitch.next_cfg: " +
                         Dump(sel));
  }
  std::int64_t target = sel["rows"][0]["next_cfg"].get<std::int64_t>();
  TVD_RETURN_IF_ERROR(WaitForCurCfg(target, wait));
  results.erase(results.begin() + static_cast<long>(operations.size()),
                results.end());
  return results;
}

Status OvsdbClient::StartMonitor(const std::string& monitor_id,
                                 const MonitorState& m) {
  bool sent = false;
  StatusOr<JsonRpcMessage> reply = RoundTrip(
      "monitor", Json::array({m.database, monitor_id, m.requests}), &sent);
  if (!reply.ok()) return reply.status();
  if (!reply->error.is_null()) {
    return ProtocolError("OVSDB monitor failed: " + Dump(reply->error));
  }
  if (!reply->result.is_object()) {
    return ProtocolError("OVSDB monitor result is not an object");
  }
  if (m.handler) m.handler(reply->result, true);
  return Status::Ok();
}

Status OvsdbClient::Monitor(const std::string& database,
                            const std::string& monitor_id, const Json& requests,
                            UpdateHandler handler) {
  if (monitors_.count(monitor_id) != 0) {
    return AlreadyExists("OVSDB monitor '" + monitor_id + "' already exists");
  }
  TVD_RETURN_IF_ERROR(EnsureConnected());
  MonitorState m{database, requests, std::move(handler)};
  TVD_RETURN_IF_ERROR(StartMonitor(monitor_id, m));
  monitors_.emplace(monitor_id, std::move(m));
  return Status::Ok();
}

Status OvsdbClient::CancelMonitor(const std::string& monitor_id) {
  auto it = monitors_.find(monitor_id);
  if (it == monitors_.end()) {
    return NotFound("no OVSDB monitor '" + monitor_id + "'");
  }
  monitors_.erase(it);
  StatusOr<Json> r = Call("monitor_cancel", Json::array({monitor_id}));
  return r.ok() ? Status::Ok() : r.status();
}

Status OvsdbClient::Echo() {
  Json payload = Json::array({"tvd-echo"});
  TVD_ASSIGN_OR_RETURN(Json result, Call("echo", payload));
  if (result != payload) {
    return ProtocolError("OVSDB echo returned " + Dump(result));
  }
  return Status::Ok();
}

Status OvsdbClient::Poll(std::chrono::milliseconds wait) {
  TVD_RETURN_IF_ERROR(EnsureConnected());
  StatusOr<JsonRpcMessage> r = Pump(-1, Clock::now() + wait);
  if (!r.ok() && r.status().code() != ErrorCode::kTimeout) return r.status();
  return Status::Ok();
}

Status OvsdbClient::EnsureCfgMonitor() {
  if (cfg_monitor_) return Status::Ok();
  Json requests = {{"Open_vSwitch", {{"columns", {"cur_cfg"}}}}};
  TVD_RETURN_IF_ERROR(
      Monitor("Open_vSwitch", kCfgMonitorId, requests,
              [this](const Json& updates, bool) {
                auto table = updates.find("Open_vSwitch");
                if (table == updates.end() || !table->is_object()) return;
                for (const auto& [uuid, change] : table->items()) {
                  if (!change.is_object()) continue;
                  auto row = change.find("new");
                  if (row == change.end() || !row->is_object()) continue;
                  auto cfg = row->find("cur_cfg");
                  if (cfg != row->end() && cfg->is_number_integer()) {
                    cur_cfg_ = cfg->get<std::int64_t>();
                  }
                }
              }));
  cfg_monitor_ = true;
  return Status::Ok();
}

Status OvsdbClient::WaitForCurCfg(std::int64_t target,
                                  std::chrono::milliseconds wait) {
  TVD_RETURN_IF_ERROR(EnsureCfgMonitor());
  auto deadline = Clock::now() + wait;
  while (cur_cfg_ < target) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      return Timeout("ovs-vswitchd has not applied configuration " +
                     std::to_string(target) + " (cur_cfg " +
                     std::to_string(cur_cfg_) + ") within " +
                     std::to_string(wait.count()) + " ms");
    }
    Status s = Poll(left);
    if (!s.ok() && s.code() != ErrorCode::kUnavailable) return s;
    if (!s.ok()) TVD_RETURN_IF_ERROR(Reconnect());
  }
  return Status::Ok();
}

}  // namespace tvd::vswitch
