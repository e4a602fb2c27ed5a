#include "tvd/master/ovsdb_leader_link.h"

#include <thread>

#include "tvd/log.h"
#include "tvd/master/ovsdb_store_rows.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::master {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace ov = vswitch::ovsdb;

bool ValidRemote(const std::string& r) {
  if (r.starts_with("unix:")) return r.size() > 6 && r[5] == '/';
  if (!r.starts_with("tcp:")) return false;
  std::string rest = r.substr(4);
  std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return false;
  }
  std::string addr = rest.substr(0, colon);
  if (addr.front() == '[') {
    return addr.size() > 2 && addr.back() == ']' &&
           addr.find_first_not_of("0123456789abcdefABCDEF:.", 1) ==
               addr.size() - 1;
  }
  return addr.find_first_not_of("0123456789.") == std::string::npos;
}

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// Errors the data causes: sending the transaction elsewhere would not help.
bool DataError(const std::string& error) {
  return error == "constraint violation" ||
         error == "referential integrity violation";
}

}  // namespace

StatusOr<std::vector<std::string>> ParseOvsdbRemotes(std::string_view spec) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string r(spec.substr(start, comma - start));
    if (!r.empty()) {
      if (!ValidRemote(r)) {
        return InvalidArgument("OVSDB remote '" + r +
                               "' is not unix:/ABSOLUTE/PATH or tcp:IP:PORT");
      }
      out.push_back(r);
    }
    start = comma + 1;
  }
  if (out.empty()) return InvalidArgument("no OVSDB remote given");
  return out;
}

OvsdbLeaderLink::OvsdbLeaderLink(OvsdbLinkOptions options)
    : options_(std::move(options)) {}

std::string OvsdbLeaderLink::remotes_text() const {
  std::string out;
  for (const auto& r : options_.remotes) out += (out.empty() ? "" : ", ") + r;
  return out;
}

void OvsdbLeaderLink::Drop() {
  client_.reset();
  remote_.clear();
}

Status OvsdbLeaderLink::CheckServer(vswitch::OvsdbClient& client,
                                    const std::string& remote, bool* retry) {
  const std::string& db = options_.database;
  auto corrupt = [&](const Status& s) {
    *retry = false;
    return ProtocolError("OVSDB " + remote + ": corrupt reply: " + s.message());
  };
  TVD_ASSIGN_OR_RETURN(
      Json server,
      client.Call(
          "transact",
          Json::array({"_Server",
                       ov::Select("Database", ov::Where("name", "==", db),
                                  {"name", "model", "connected", "leader"})})));
  auto rows = ovsdb_rows::SelectedRows(server, 0, "_Server Database");
  if (!rows.ok()) return corrupt(rows.status());
  if (rows->size() != 1) {
    return corrupt(ProtocolError(
        "_Server lists " + std::to_string(rows->size()) + " rows for " + db));
  }
  auto info = ovsdb_rows::DecodeServerDatabase((*rows)[0]);
  if (!info.ok()) return corrupt(info.status());
  if (info->model == "clustered") {
    if (!info->connected) {
      return Unavailable("not connected to its cluster");
    }
    if (!info->leader) return Unavailable("not the cluster leader");
  } else if (info->model != "standalone") {
    *retry = false;
    return FailedPrecondition("OVSDB " + remote + " serves " + db + " as a " +
                              info->model +
                              " database; the store needs a standalone "
                              "server or a cluster member");
  }
  clustered_ = info->model == "clustered";
  return Status::Ok();
}

Status OvsdbLeaderLink::TryRemote(const std::string& remote, bool* retry) {
  *retry = true;
  vswitch::OvsdbClient::Options o;
  o.socket_path = remote.starts_with("unix:") ? remote.substr(5) : remote;
  o.call_timeout = options_.call_timeout;
  o.reconnect_timeout = std::chrono::milliseconds(100);
  TVD_ASSIGN_OR_RETURN(auto client, vswitch::OvsdbClient::Connect(o));
  const std::string& db = options_.database;
  auto corrupt = [&](const Status& s) {
    *retry = false;
    return ProtocolError("OVSDB " + remote + ": corrupt reply: " + s.message());
  };

  TVD_ASSIGN_OR_RETURN(Json dbs, client->Call("list_dbs", Json::array()));
  if (!dbs.is_array()) {
    return corrupt(ProtocolError("list_dbs result is not an array"));
  }
  bool found = false;
  std::string names;
  for (const Json& d : dbs) {
    if (!d.is_string()) {
      return corrupt(ProtocolError("list_dbs names a non-string"));
    }
    found = found || d.get<std::string>() == db;
    names += (names.empty() ? "" : ", ") + d.get<std::string>();
  }
  if (!found) {
    *retry = false;
    return FailedPrecondition("OVSDB " + remote + " serves no " + db +
                              " database (it serves: " + names + ")");
  }

  TVD_ASSIGN_OR_RETURN(Json schema,
                       client->Call("get_schema", Json::array({db})));
  auto nv = ovsdb_rows::SchemaNameVersion(schema);
  if (!nv.ok()) return corrupt(nv.status());
  if (nv->first != db) {
    return corrupt(
        ProtocolError("get_schema " + db + " answered schema " + nv->first));
  }
  if (nv->second != options_.schema_version) {
    *retry = false;
    return FailedPrecondition("OVSDB " + remote + ": " + db +
                              " schema version " + nv->second +
                              ", this master needs " + options_.schema_version);
  }

  TVD_RETURN_IF_ERROR(CheckServer(*client, remote, retry));
  client_ = std::move(client);
  remote_ = remote;
  return Status::Ok();
}

Status OvsdbLeaderLink::Connect() {
  return ConnectBy(Clock::now() + options_.failover_timeout);
}

Status OvsdbLeaderLink::ConnectBy(Clock::time_point deadline) {
  if (client_) return Status::Ok();
  if (options_.remotes.empty()) return InvalidArgument("no OVSDB remote given");
  std::vector<std::string> why(options_.remotes.size());
  while (true) {
    for (std::size_t k = 0; k < options_.remotes.size(); ++k) {
      if (options_.gate) TVD_RETURN_IF_ERROR(options_.gate());
      std::size_t i = (next_ + k) % options_.remotes.size();
      bool retry = true;
      Status s = TryRemote(options_.remotes[i], &retry);
      if (s.ok()) {
        next_ = i;
        return s;
      }
      if (!retry) return s;
      why[i] = s.message();
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string reasons;
  for (std::size_t i = 0; i < why.size(); ++i) {
    reasons += (i ? "; " : "") + options_.remotes[i] + ": " + why[i];
  }
  return Unavailable("no OVSDB leader for " + options_.database + " among " +
                     remotes_text() + " within " +
                     std::to_string(options_.failover_timeout.count()) +
                     " ms (" + reasons + ")");
}

StatusOr<TxnOutcome> OvsdbLeaderLink::Transact(const Json& ops) {
  return Run(ops, /*check_leader=*/false);
}

StatusOr<TxnOutcome> OvsdbLeaderLink::Read(const Json& ops) {
  return Run(ops, /*check_leader=*/true);
}

StatusOr<TxnOutcome> OvsdbLeaderLink::Run(const Json& ops, bool check_leader) {
  Json params = Json::array({options_.database});
  for (const Json& op : ops) params.push_back(op);
  auto deadline = Clock::now() + options_.failover_timeout;
  std::string last;
  while (true) {
    if (options_.gate) TVD_RETURN_IF_ERROR(options_.gate());
    // One deadline for the whole call, finding a leader included.
    Status connected = ConnectBy(deadline);
    if (!connected.ok()) {
      if (connected.code() != ErrorCode::kUnavailable) return connected;
      last = connected.message();
    } else if (bool retry = true;
               check_leader && clustered_ &&
               !(connected = CheckServer(*client_, remote_, &retry)).ok()) {
      if (!retry) return connected;
      last = remote_ + ": " + connected.message();
      log::Warning("state store: ", last, "; looking for another leader");
      Drop();
      ++failovers_;
      next_ = (next_ + 1) % options_.remotes.size();
    } else {
      StatusOr<Json> reply = client_->Call("transact", params);
      if (reply.ok() && reply->is_array() && reply->size() >= ops.size()) {
        TxnOutcome out;
        out.ok = true;
        for (std::size_t i = 0; i < reply->size(); ++i) {
          const Json& r = (*reply)[i];
          if (!r.is_object() || !r.contains("error") || r["error"].is_null()) {
            continue;
          }
          out.ok = false;
          out.error = Str(r, "error");
          out.details = Str(r, "details");
          if (i < ops.size()) out.failed_op = i;
          break;
        }
        if (out.ok || out.failed_op || DataError(out.error)) {
          if (out.ok) {
            reply->erase(reply->begin() + static_cast<long>(ops.size()),
                         reply->end());
          }
          out.results = std::move(*reply);
          return out;
        }
        // The commit failed for a reason of the server (it lost the
        // cluster, it is no longer the leader): try the others.
        last = remote_ + ": commit failed: " + out.error +
               (out.details.empty() ? "" : ": " + out.details);
      } else if (reply.ok()) {
        last = remote_ + ": transact answered " +
               std::to_string(reply->is_array() ? reply->size() : 0) +
               " results for " + std::to_string(ops.size()) + " operations";
      } else {
        last = remote_ + ": " + reply.status().message();
      }
      log::Warning("state store: ", last, "; looking for another leader");
      Drop();
      ++failovers_;
      next_ = (next_ + 1) % options_.remotes.size();
    }
    if (Clock::now() >= deadline) {
      return IoError("state store " + options_.database + " at " +
                     remotes_text() + ": no transaction completed within " +
                     std::to_string(options_.failover_timeout.count()) +
                     " ms: " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace tvd::master
