#include "tvd/master/ovsdb_store_watch.h"

#include "tvd/log.h"
#include "tvd/master/ovsdb_store_rows.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::master {
namespace {

// How often the watch asks its server whether it is still worth watching.
constexpr std::chrono::milliseconds kLivenessEvery{1000};

// A monitor on a server that is gone without a word (its packets dropped)
// or on a follower that lost its cluster (it serves a copy that no longer
// changes) would go quiet, not fail: every kLivenessEvery the watch reads
// its server's _Server row (a call with the client's deadline) and moves
// on when there is no answer in time or the server is a cluster member
// that is not connected to its cluster.
Status CheckServer(vswitch::OvsdbClient& client) {
  namespace ov = vswitch::ovsdb;
  TVD_ASSIGN_OR_RETURN(
      nlohmann::json server,
      client.Call(
          "transact",
          nlohmann::json::array(
              {"_Server",
               ov::Select("Database", ov::Where("name", "==", "TVD_Master"),
                          {"name", "model", "connected", "leader"})})));
  TVD_ASSIGN_OR_RETURN(auto rows,
                       ovsdb_rows::SelectedRows(server, 0, "_Server Database"));
  if (rows.size() != 1) {
    return ProtocolError("_Server lists " + std::to_string(rows.size()) +
                         " rows for TVD_Master");
  }
  TVD_ASSIGN_OR_RETURN(auto info, ovsdb_rows::DecodeServerDatabase(rows[0]));
  if (info.model == "clustered" && !info.connected) {
    return Unavailable("server not connected to its cluster");
  }
  return Status::Ok();
}

}  // namespace

OvsdbStoreWatch::OvsdbStoreWatch(std::vector<std::string> remotes,
                                 Handler on_change)
    : remotes_(std::move(remotes)), on_change_(std::move(on_change)) {}

StatusOr<std::unique_ptr<OvsdbStoreWatch>> OvsdbStoreWatch::Start(
    std::vector<std::string> remotes, Handler on_change,
    std::chrono::milliseconds first_timeout) {
  if (remotes.empty()) return InvalidArgument("no OVSDB remote given");
  std::unique_ptr<OvsdbStoreWatch> w(
      new OvsdbStoreWatch(std::move(remotes), std::move(on_change)));
  w->thread_ = std::thread([self = w.get()] { self->Run(); });
  auto deadline = std::chrono::steady_clock::now() + first_timeout;
  while (!w->first_done_.load()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string list;
      for (const auto& r : w->remotes_) list += (list.empty() ? "" : ", ") + r;
      return Unavailable("no OVSDB server of " + list +
                         " answered a monitor within " +
                         std::to_string(first_timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return w;
}

OvsdbStoreWatch::~OvsdbStoreWatch() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void OvsdbStoreWatch::Run() {
  std::size_t next = 0;
  while (!stop_) {
    const std::string& remote = remotes_[next++ % remotes_.size()];
    vswitch::OvsdbClient::Options o;
    o.socket_path = remote.starts_with("unix:") ? remote.substr(5) : remote;
    o.call_timeout = std::chrono::milliseconds(5000);
    o.reconnect_timeout = std::chrono::milliseconds(100);
    auto client = vswitch::OvsdbClient::Connect(o);
    if (!client.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    // A fresh copy with every monitor: its initial contents replace all.
    StoreMirror mirror;
    Status bad = Status::Ok();
    Status started = (*client)->Monitor(
        "TVD_Master", "tvd-master-watch", StoreMirror::MonitorRequests(),
        [&](const nlohmann::json& updates, bool initial) {
          if (!bad.ok()) return;
          auto change = mirror.Apply(updates, initial);
          if (!change.ok()) {
            bad = change.status();
            return;
          }
          if (!change->empty()) on_change_(*change);
        });
    if (!started.ok() || !bad.ok()) {
      log::Warning("store watch on ", remote, ": ",
                   (started.ok() ? bad : started).ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    monitors_.fetch_add(1);
    first_done_ = true;
    auto next_check = std::chrono::steady_clock::now() + kLivenessEvery;
    while (!stop_ && bad.ok()) {
      Status polled = (*client)->Poll(std::chrono::milliseconds(200));
      if (!polled.ok()) {
        bad = polled;
        break;
      }
      if (std::chrono::steady_clock::now() >= next_check) {
        bad = CheckServer(**client);
        next_check = std::chrono::steady_clock::now() + kLivenessEvery;
      }
    }
    if (!stop_) {
      log::Warning("store watch on ", remote, " ended: ", bad.ToString(),
                   "; moving to the next server");
    }
  }
}

}  // namespace tvd::master
