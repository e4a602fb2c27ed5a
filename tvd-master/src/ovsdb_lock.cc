#include "tvd/master/ovsdb_lock.h"

#include <algorithm>
#include <deque>

#include "tvd/log.h"
#include "tvd/master/ovsdb_leader_link.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"
#include "tvd/vswitch/ovsdb/unix_stream.h"

namespace tvd::master {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using vswitch::JsonRpcMessage;
namespace ov = vswitch::ovsdb;

namespace {

std::string Dump(const Json& v) {
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool IsIdentifier(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
  });
}

std::string StringMember(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

StatusOr<vswitch::UnixStream> Open(const std::string& remote,
                                   std::chrono::milliseconds timeout) {
  if (remote.starts_with("unix:")) {
    return vswitch::UnixStream::Connect(remote.substr(5));
  }
  std::string rest = remote.substr(4);  // "tcp:" (checked by Start)
  std::size_t colon = rest.rfind(':');
  std::string address = rest.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[') {
    address = address.substr(1, address.size() - 2);
  }
  return vswitch::UnixStream::ConnectTcp(
      address, static_cast<std::uint16_t>(std::stoul(rest.substr(colon + 1))),
      timeout);
}

}  // namespace

struct OvsdbLock::Conn {
  vswitch::UnixStream stream;
  vswitch::JsonRpcDecoder decoder;
  std::deque<JsonRpcMessage> pending;
  std::int64_t next_id = 1;
};

OvsdbLockOptions OvsdbLockOptions::ForTakeover(milliseconds takeover,
                                               milliseconds election_timer) {
  OvsdbLockOptions o;
  o.election_timer = election_timer;
  o.hold = std::max(milliseconds(100), (takeover - election_timer) / 3);
  o.probe = o.hold / 4;
  o.call_timeout = o.hold;
  return o;
}

StatusOr<std::unique_ptr<OvsdbLock>> OvsdbLock::Start(
    OvsdbLockOptions options) {
  if (!IsIdentifier(options.lock_name)) {
    return InvalidArgument("OVSDB lock name '" + options.lock_name +
                           "' is not an identifier");
  }
  if (options.probe.count() <= 0 || options.probe >= options.hold) {
    return InvalidArgument("OVSDB lock: probe (" +
                           std::to_string(options.probe.count()) +
                           " ms) must be shorter than hold (" +
                           std::to_string(options.hold.count()) + " ms)");
  }
  std::string joined;
  for (const auto& r : options.remotes)
    joined += (joined.empty() ? "" : ",") + r;
  TVD_RETURN_IF_ERROR(ParseOvsdbRemotes(joined).status());
  std::unique_ptr<OvsdbLock> lock(new OvsdbLock(std::move(options)));
  lock->thread_ = std::thread([l = lock.get()] { l->Run(); });
  return lock;
}

OvsdbLock::OvsdbLock(OvsdbLockOptions options)
    : options_(std::move(options)),
      state_(
          LockTiming{options_.hold, options_.hold + options_.election_timer}) {}

OvsdbLock::~OvsdbLock() { Stop(); }

void OvsdbLock::Stop() {
  {
    MutexLock lock(state_mu_);
    stop_ = true;
    state_cv_.NotifyAll();
  }
  if (thread_.joinable()) thread_.join();
  MutexLock io(io_mu_);
  if (conn_) Drop("stopped");
}

bool OvsdbLock::stopping() const {
  MutexLock lock(state_mu_);
  return stop_;
}

void OvsdbLock::SleepFor(milliseconds d) {
  auto until = LockClock::now() + d;
  MutexLock lock(state_mu_);
  while (!stop_ && state_cv_.WaitUntil(state_mu_, until)) {
  }
}

bool OvsdbLock::held() const {
  MutexLock lock(state_mu_);
  return !stop_ && state_.Holding(LockClock::now());
}

Status OvsdbLock::WaitHeld(milliseconds wait) const {
  auto deadline = LockClock::now() + wait;
  while (!held()) {
    if (LockClock::now() >= deadline) {
      return Timeout("OVSDB lock '" + options_.lock_name +
                     "' not held within " + std::to_string(wait.count()) +
                     " ms");
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return Status::Ok();
}

std::string OvsdbLock::remote() const {
  MutexLock lock(state_mu_);
  return remote_;
}

std::optional<ServerStatus> OvsdbLock::server_status() const {
  MutexLock lock(state_mu_);
  return server_;
}

OvsdbLock::Counters OvsdbLock::counters() const {
  MutexLock lock(state_mu_);
  return counters_;
}

Json OvsdbLock::AssertOp(const std::string& name) {
  return {{"op", "assert"}, {"lock", name}};
}

void OvsdbLock::Drop(const std::string& why) {
  conn_.reset();
  MutexLock lock(state_mu_);
  if (state_.phase() == LockState::Phase::kGranted) {
    ++counters_.losses;
    log::Warning("OVSDB lock '", options_.lock_name, "' lost at ", remote_,
                 ": ", why);
  }
  state_.Disconnected();
  remote_.clear();
  server_.reset();
}

Status OvsdbLock::Handle(const JsonRpcMessage& msg) {
  using Kind = JsonRpcMessage::Kind;
  if (msg.kind == Kind::kRequest && msg.method == "echo") {
    return conn_->stream.WriteAll(
        vswitch::EncodeJsonRpcResponse(msg.params, msg.id),
        LockClock::now() + options_.call_timeout);
  }
  if (msg.kind == Kind::kNotification &&
      (msg.method == "locked" || msg.method == "stolen")) {
    TVD_ASSIGN_OR_RETURN(
        LockNotice notice,
        DecodeLockNotification(msg.method, msg.params, options_.lock_name));
    MutexLock lock(state_mu_);
    TVD_RETURN_IF_ERROR(state_.OnNotice(notice, LockClock::now()));
    if (notice == LockNotice::kLocked) {
      ++counters_.grants;
      log::Info("OVSDB lock '", options_.lock_name, "' granted at ", remote_);
      return Status::Ok();
    }
    // Stolen: the server forgot our request; ask again on a new connection.
    ++counters_.losses;
    log::Warning("OVSDB lock '", options_.lock_name, "' stolen at ", remote_);
    return Unavailable("lock stolen by another client");
  }
  if (msg.kind == Kind::kRequest) {
    Json reply = {{"result", nullptr},
                  {"error", "unknown method " + msg.method},
                  {"id", msg.id}};
    return conn_->stream.WriteAll(Dump(reply),
                                  LockClock::now() + options_.call_timeout);
  }
  // Other notifications (none are asked for) and stray responses.
  return Status::Ok();
}

StatusOr<Json> OvsdbLock::RoundTrip(const std::string& method,
                                    const Json& params,
                                    LockClock::time_point deadline) {
  if (!conn_) return Unavailable("no connection");
  std::int64_t id = conn_->next_id++;
  TVD_RETURN_IF_ERROR(conn_->stream.WriteAll(
      vswitch::EncodeJsonRpcRequest(method, params, id), deadline));
  while (true) {
    while (!conn_->pending.empty()) {
      JsonRpcMessage msg = std::move(conn_->pending.front());
      conn_->pending.pop_front();
      if (msg.kind == JsonRpcMessage::Kind::kResponse &&
          msg.id.is_number_integer() && msg.id.get<std::int64_t>() == id) {
        if (!msg.error.is_null()) {
          return ProtocolError("OVSDB " + method +
                               " failed: " + Dump(msg.error));
        }
        return std::move(msg.result);
      }
      TVD_RETURN_IF_ERROR(Handle(msg));
    }
    TVD_ASSIGN_OR_RETURN(std::string bytes, conn_->stream.ReadSome(deadline));
    std::vector<JsonRpcMessage> got;
    Status fed = conn_->decoder.Feed(bytes, &got);
    for (auto& m : got) conn_->pending.push_back(std::move(m));
    if (!fed.ok() && conn_->pending.empty()) return fed;
  }
}

Status OvsdbLock::PollOnce(milliseconds wait) {
  auto deadline = LockClock::now() + wait;
  while (conn_->pending.empty()) {
    StatusOr<std::string> bytes = conn_->stream.ReadSome(deadline);
    if (!bytes.ok()) {
      return bytes.status().code() == ErrorCode::kTimeout ? Status::Ok()
                                                          : bytes.status();
    }
    std::vector<JsonRpcMessage> got;
    Status fed = conn_->decoder.Feed(*bytes, &got);
    for (auto& m : got) conn_->pending.push_back(std::move(m));
    if (!fed.ok() && conn_->pending.empty()) return fed;
  }
  while (!conn_->pending.empty()) {
    JsonRpcMessage msg = std::move(conn_->pending.front());
    conn_->pending.pop_front();
    TVD_RETURN_IF_ERROR(Handle(msg));
  }
  return Status::Ok();
}

Status OvsdbLock::Probe() {
  auto sent = LockClock::now();
  Json params = Json::array(
      {"_Server",
       ov::Select("Database", ov::Where("name", "==", options_.database),
                  {"model", "connected", "leader", "index"})});
  TVD_ASSIGN_OR_RETURN(
      Json result, RoundTrip("transact", params, sent + options_.call_timeout));
  TVD_ASSIGN_OR_RETURN(ServerStatus status,
                       DecodeServerStatus(result, options_.database));
  MutexLock lock(state_mu_);
  server_ = status;
  if (!status.may_hold()) {
    return Unavailable("not the leader of " + options_.database + " (" +
                       status.model +
                       (status.connected ? "" : ", not connected") + ")");
  }
  state_.OnProbe(status, sent);
  return Status::Ok();
}

Status OvsdbLock::ConnectTo(const std::string& remote) {
  TVD_ASSIGN_OR_RETURN(vswitch::UnixStream stream,
                       Open(remote, options_.call_timeout));
  conn_ = std::make_unique<Conn>();
  conn_->stream = std::move(stream);
  auto sent = LockClock::now();
  {
    MutexLock lock(state_mu_);
    remote_ = remote;
    // Probe() confirms only a connected client; mark the connection first.
    state_.Connected(sent - options_.hold);
  }
  TVD_RETURN_IF_ERROR(Probe());
  TVD_ASSIGN_OR_RETURN(Json reply,
                       RoundTrip("lock", Json::array({options_.lock_name}),
                                 LockClock::now() + options_.call_timeout));
  TVD_ASSIGN_OR_RETURN(bool locked, DecodeLockReply(reply));
  MutexLock lock(state_mu_);
  ++counters_.connections;
  // A "locked" notification cannot come before the reply: the server
  // sends it only after it queued us, which the reply reports.
  TVD_RETURN_IF_ERROR(state_.OnLockReply(locked, LockClock::now()));
  if (locked) {
    ++counters_.grants;
    log::Info("OVSDB lock '", options_.lock_name, "' granted at ", remote);
  }
  return Status::Ok();
}

void OvsdbLock::Run() {
  auto next_probe = LockClock::now();
  // Why connecting failed, logged when it changes or once a second.
  std::string last_why;
  auto last_log = LockClock::now() - std::chrono::seconds(1);
  while (!stopping()) {
    bool connected;
    {
      MutexLock io(io_mu_);
      connected = conn_ != nullptr;
    }
    if (!connected) {
      std::size_t n = options_.remotes.size();
      for (std::size_t k = 0; k < n && !stopping(); ++k) {
        std::size_t i = (next_remote_ + k) % n;
        MutexLock io(io_mu_);
        Status s = ConnectTo(options_.remotes[i]);
        if (s.ok()) {
          next_remote_ = i;
          next_probe = LockClock::now() + options_.probe;
          connected = true;
          break;
        }
        if (s.message() != last_why &&
            LockClock::now() - last_log >= std::chrono::seconds(1)) {
          log::Info("OVSDB lock '", options_.lock_name,
                    "': ", options_.remotes[i], ": ", s.message());
          last_why = s.message();
          last_log = LockClock::now();
        }
        Drop(s.message());
      }
      if (!connected) {
        next_remote_ = (next_remote_ + 1) % n;
        SleepFor(milliseconds(50));
      }
      continue;
    }
    // Let a TransactFenced caller in between slices.
    while (io_waiters_.load() > 0 && !stopping()) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    MutexLock io(io_mu_);
    if (!conn_) continue;
    Status s;
    auto now = LockClock::now();
    if (now >= next_probe) {
      next_probe = now + options_.probe;
      s = Probe();
    } else {
      s = PollOnce(std::min(milliseconds(20),
                            std::chrono::ceil<milliseconds>(next_probe - now)));
    }
    if (!s.ok()) {
      Drop(s.message());
      // The next attempt starts with the next remote: this one failed us.
      next_remote_ = (next_remote_ + 1) % options_.remotes.size();
    }
  }
}

StatusOr<Json> OvsdbLock::TransactFenced(const Json& ops, Check check) {
  std::string not_held =
      "OVSDB lock '" + options_.lock_name + "' is not held by this replica";
  if (!ops.is_array()) {
    return InvalidArgument("OVSDB operations must be a JSON array");
  }
  if (check == Check::kHeld && !held()) return FailedPrecondition(not_held);
  ++io_waiters_;
  MutexLock io(io_mu_);
  --io_waiters_;
  if (!conn_) return FailedPrecondition(not_held);
  Json params = Json::array({options_.database, AssertOp(options_.lock_name)});
  for (const Json& op : ops) params.push_back(op);
  StatusOr<Json> reply =
      RoundTrip("transact", params, LockClock::now() + options_.call_timeout);
  if (!reply.ok()) {
    Drop(reply.status().message());
    return Unavailable(
        "OVSDB lock connection lost during a fenced "
        "transaction; outcome unknown: " +
        reply.status().message());
  }
  Json& results = *reply;
  if (!results.is_array()) {
    return ProtocolError("OVSDB transact result is not an array: " +
                         Dump(results));
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Json& r = results[i];
    if (!r.is_object() || !r.contains("error")) continue;
    std::string error = StringMember(r, "error");
    std::string details = StringMember(r, "details");
    std::string why = error + (details.empty() ? "" : ": " + details);
    if (i == 0) {
      return FailedPrecondition(not_held +
                                ": the server refused the assert: " + why);
    }
    if (i <= ops.size()) {
      const Json& op = ops[i - 1];
      return FailedPrecondition("OVSDB transaction failed at operation " +
                                std::to_string(i - 1) + " (" +
                                StringMember(op, "op") + " " +
                                StringMember(op, "table") + "): " + why);
    }
    return FailedPrecondition("OVSDB transaction failed to commit: " + why);
  }
  if (results.size() < ops.size() + 1) {
    return ProtocolError("OVSDB transact returned " +
                         std::to_string(results.size()) + " results for " +
                         std::to_string(ops.size() + 1) + " operations");
  }
  Json out = Json::array();
  for (std::size_t i = 1; i <= ops.size(); ++i) out.push_back(results[i]);
  return out;
}

}  // namespace tvd::master
