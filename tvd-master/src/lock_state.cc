#include "tvd/master/lock_state.h"

namespace tvd::master {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& v) {
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Status BadRow(std::string_view why) {
  return ProtocolError("_Server Database row: " + std::string(why));
}

}  // namespace

StatusOr<bool> DecodeLockReply(const Json& result) {
  if (!result.is_object()) {
    return ProtocolError("OVSDB lock reply: result is not an object: " +
                         Dump(result));
  }
  auto it = result.find("locked");
  if (it == result.end() || !it->is_boolean()) {
    return ProtocolError("OVSDB lock reply: no boolean 'locked' in " +
                         Dump(result));
  }
  return it->get<bool>();
}

StatusOr<LockNotice> DecodeLockNotification(std::string_view method,
                                            const Json& params,
                                            std::string_view name) {
  std::string what = "OVSDB '" + std::string(method) + "' notification: ";
  LockNotice notice;
  if (method == "locked") {
    notice = LockNotice::kLocked;
  } else if (method == "stolen") {
    notice = LockNotice::kStolen;
  } else {
    return ProtocolError(what + "not a lock notification");
  }
  if (!params.is_array() || params.size() != 1 || !params[0].is_string()) {
    return ProtocolError(what + "params are not [lock name]: " + Dump(params));
  }
  if (params[0].get<std::string>() != name) {
    return ProtocolError(what + "for lock '" + params[0].get<std::string>() +
                         "', this client holds '" + std::string(name) + "'");
  }
  return notice;
}

StatusOr<ServerStatus> DecodeServerStatus(const Json& results,
                                          std::string_view database) {
  if (!results.is_array() || results.empty() || !results[0].is_object()) {
    return BadRow("transact result is not [ {rows} ]");
  }
  const Json& first = results[0];
  if (first.contains("error")) {
    return BadRow("select failed: " + Dump(first["error"]));
  }
  auto rows = first.find("rows");
  if (rows == first.end() || !rows->is_array()) {
    return BadRow("select result has no 'rows' array");
  }
  if (rows->size() != 1) {
    return BadRow(std::to_string(rows->size()) + " rows for database " +
                  std::string(database));
  }
  const Json& row = (*rows)[0];
  if (!row.is_object()) return BadRow("row is not an object");
  ServerStatus s;
  auto model = row.find("model");
  if (model == row.end() || !model->is_string()) {
    return BadRow("'model' is not a string");
  }
  s.model = model->get<std::string>();
  for (auto [column, field] :
       {std::pair{"connected", &s.connected}, std::pair{"leader", &s.leader}}) {
    auto it = row.find(column);
    if (it == row.end() || !it->is_boolean()) {
      return BadRow("'" + std::string(column) + "' is not a boolean");
    }
    *field = it->get<bool>();
  }
  auto index = row.find("index");
  if (index != row.end()) {
    // An optional integer: the integer, or ["set", []] when none.
    if (index->is_number_integer()) {
      s.index = index->get<std::int64_t>();
    } else if (!(index->is_array() && index->size() == 2 &&
                 (*index)[0] == "set" && (*index)[1].is_array() &&
                 (*index)[1].empty())) {
      return BadRow("'index' is neither an integer nor an empty set");
    }
  }
  return s;
}

std::string_view PhaseName(LockState::Phase phase) {
  switch (phase) {
    case LockState::Phase::kDisconnected:
      return "disconnected";
    case LockState::Phase::kWaiting:
      return "waiting";
    case LockState::Phase::kGranted:
      return "granted";
  }
  return "?";
}

void LockState::Connected(LockClock::time_point probe_sent) {
  phase_ = Phase::kWaiting;
  granted_.reset();
  confirmed_ = probe_sent;
}

void LockState::Disconnected() {
  phase_ = Phase::kDisconnected;
  granted_.reset();
  confirmed_.reset();
}

Status LockState::OnLockReply(bool locked, LockClock::time_point now) {
  if (phase_ != Phase::kWaiting) {
    return FailedPrecondition("lock reply while " +
                              std::string(PhaseName(phase_)));
  }
  if (locked) {
    phase_ = Phase::kGranted;
    granted_ = now;
  }
  return Status::Ok();
}

Status LockState::OnNotice(LockNotice notice, LockClock::time_point now) {
  if (notice == LockNotice::kLocked && phase_ == Phase::kWaiting) {
    phase_ = Phase::kGranted;
    granted_ = now;
    return Status::Ok();
  }
  if (notice == LockNotice::kStolen && phase_ == Phase::kGranted) {
    phase_ = Phase::kWaiting;
    granted_.reset();
    return Status::Ok();
  }
  return FailedPrecondition(
      std::string(notice == LockNotice::kLocked ? "'locked'" : "'stolen'") +
      " notification while " + std::string(PhaseName(phase_)));
}

void LockState::OnProbe(const ServerStatus& status,
                        LockClock::time_point sent) {
  if (phase_ == Phase::kDisconnected) return;
  if (!status.may_hold()) {
    Disconnected();
    return;
  }
  // Replies come back in order; never move the confirmation backwards.
  if (!confirmed_ || sent > *confirmed_) confirmed_ = sent;
}

bool LockState::Holding(LockClock::time_point now) const {
  if (phase_ != Phase::kGranted || !granted_ || !confirmed_) return false;
  return now >= *granted_ + timing_.settle && now < *confirmed_ + timing_.hold;
}

std::optional<LockClock::time_point> LockState::holding_from() const {
  if (phase_ != Phase::kGranted || !granted_) return std::nullopt;
  return *granted_ + timing_.settle;
}

}  // namespace tvd::master
