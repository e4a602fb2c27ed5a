// The state of one OVSDB lock (RFC 7047 4.1.8-4.1.10) as seen by its
// client, as pure state: the server's replies and notifications and the
// results of leader probes go in, with the time they happened; "may this
// replica act as the holder now?" comes out. No I/O, no clock of its own,
// no threads; OvsdbLock (ovsdb_lock.h) drives it from its connection.
//
// Holding is narrower than "the server said locked": the replica acts only
//  - once the server granted the lock on the current connection (the
//    reply {"locked": true} or the "locked" notification),
//  - after `settle` has passed since that grant (a holder on another, now
//    deposed, server may still be acting until then; ovsdb_lock.h says
//    why `settle` is enough),
//  - while a leader probe sent less than `hold` ago came back confirming
//    that the server still leads its cluster (or is standalone).
// A "stolen" notification, a lost connection or a probe that says the
// server no longer leads ends holding at once.
//
// The Decode* functions read what the server sent and never throw: a
// reply or notification of the wrong shape is a ProtocolError naming what
// was wrong, and the caller drops the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::master {

using LockClock = std::chrono::steady_clock;

// --- Decoding --------------------------------------------------------------

// The result of a "lock" request: {"locked": true|false}. ProtocolError
// "OVSDB lock reply: ... " otherwise.
StatusOr<bool> DecodeLockReply(const nlohmann::json& result);

enum class LockNotice { kLocked, kStolen };
// A "locked" or "stolen" notification for lock `name`: params [name].
// ProtocolError "OVSDB 'M' notification: ..." for another method, params
// that are not [string], or a lock name other than `name`.
StatusOr<LockNotice> DecodeLockNotification(std::string_view method,
                                            const nlohmann::json& params,
                                            std::string_view name);

// What a leader probe reads: the _Server database's Database row of the
// store's database (ovsdb-server(5)).
struct ServerStatus {
  std::string model;  // "standalone", "clustered" or "relay"
  bool connected = false;
  bool leader = false;
  // The Raft commit index the server has seen (clustered only).
  std::optional<std::int64_t> index;
  // Whether this server may grant and fence the lock: standalone, or the
  // connected leader of its cluster.
  bool may_hold() const {
    return model == "standalone" ||
           (model == "clustered" && connected && leader);
  }
};
// The result of a transact ["_Server", select Database where name == db]:
// exactly one row with string "model", booleans "connected" and "leader",
// and "index" an integer or an empty set. ProtocolError "_Server Database
// row: ..." otherwise.
StatusOr<ServerStatus> DecodeServerStatus(const nlohmann::json& results,
                                          std::string_view database);

// --- The state machine -----------------------------------------------------

struct LockTiming {
  // A probe sent longer ago than this without a confirmation ends holding.
  std::chrono::milliseconds hold{1000};
  // A grant gives holding only this long after it arrived.
  std::chrono::milliseconds settle{2000};
};

class LockState {
 public:
  enum class Phase {
    kDisconnected,  // no connection to a server that may hold the lock
    kWaiting,       // connected, "lock" sent or queued behind another holder
    kGranted,       // the server says we own the lock
  };

  explicit LockState(LockTiming timing) : timing_(timing) {}

  // A new connection to a server that a probe sent at `probe_sent`
  // confirmed as leader (or standalone); the "lock" request goes next.
  void Connected(LockClock::time_point probe_sent);
  // The connection is gone (or dropped by us): nothing is held.
  void Disconnected();

  // The reply to "lock", arrived at `now`. Must be kWaiting: a reply in any
  // other phase is FailedPrecondition "lock reply while <phase>".
  Status OnLockReply(bool locked, LockClock::time_point now);
  // A notification arrived at `now`. "locked" while kWaiting grants;
  // "stolen" while kGranted ends the grant (back to kWaiting: the server
  // dropped our request, so the caller reconnects to ask again). Any other
  // combination is FailedPrecondition "'locked' notification while
  // <phase>" (a server that says so is not to be trusted).
  Status OnNotice(LockNotice notice, LockClock::time_point now);
  // A probe sent at `sent` came back with `status`. A status that may not
  // hold the lock ends holding and the connection (kDisconnected); the
  // caller drops it.
  void OnProbe(const ServerStatus& status, LockClock::time_point sent);

  Phase phase() const { return phase_; }
  // May the replica act as holder at `now` (see the header comment).
  bool Holding(LockClock::time_point now) const;
  // When holding began or will begin (grant + settle); unset unless
  // kGranted.
  std::optional<LockClock::time_point> holding_from() const;
  // The last confirmed probe's send time (unset when disconnected).
  std::optional<LockClock::time_point> confirmed() const { return confirmed_; }
  const LockTiming& timing() const { return timing_; }

 private:
  LockTiming timing_;
  Phase phase_ = Phase::kDisconnected;
  std::optional<LockClock::time_point> granted_;
  std::optional<LockClock::time_point> confirmed_;
};

std::string_view PhaseName(LockState::Phase phase);

}  // namespace tvd::master
