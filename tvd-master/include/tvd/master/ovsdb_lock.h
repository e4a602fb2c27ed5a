// A named OVSDB lock (RFC 7047 4.1.8-4.1.10: "lock", "unlock", and the
// "locked" / "stolen" notifications) held on a connection of its own to
// the server that leads the store's cluster (or a standalone server), so
// that of several masters exactly one runs the singleton duties (the
// eviction deadlines; singleton_duties.h). This client never sends
// "steal".
//
// How locks behave on a clustered OVSDB, and why this is still safe
// -----------------------------------------------------------------
// OVSDB locks are server-local: each ovsdb-server keeps its own lock table
// in memory; Raft replicates the data, not the locks (OVS lists clustered
// locks under "to do"; ovsdb-server(7) documents no lock replication). A
// lock is released when its client's connection ends, and ovsdb-server
// does NOT drop connections when it loses the leadership. So two clients
// connected to two different servers can both be told "locked". Clients
// agree only by all talking to the leader, as OVN's northd does through
// leader-only connections. This class does the same, and closes the gap
// that a change of leader opens, with three rules:
//
//  1. Leader only. A server is used only after a probe (a transact select
//     on _Server's Database row; ovsdb-server(5)) says it is standalone or
//     the connected leader of its cluster. The probe is repeated every
//     `probe` on the lock's own connection.
//  2. Hold bound. The replica acts as holder only while a probe SENT less
//     than `hold` ago came back confirming the server still leads. A
//     holder that is cut off (its server dies, hangs, is partitioned, or
//     stops being the leader) stops acting at most `hold` after its last
//     confirmed probe was sent, whether or not it ever hears anything.
//  3. Settle. A newly granted lock gives holding only `settle` = `hold` +
//     `election_timer` after the grant. Raft lets a deposed leader go on
//     calling itself leader for at most one election timeout (an OVSDB
//     leader that hears no majority for that long steps down, raft.c), so
//     the old holder's last confirmation was sent at most one election
//     timeout after the new leader (the only server where another replica
//     can have been granted the lock) took over, and it stopped acting
//     `hold` after that: before the new holder starts.
// So two replicas never act as holder at the same time, provided the
// cluster's election timer is at most `election_timer` and the machines'
// steady clocks run at the same rate. The price is the takeover time: a
// holder that dies is replaced `settle` after the server notices (at once
// for a closed connection; a partitioned holder's connection only when the
// server's own inactivity probe ends it).
//
// Fencing. Timing is the first line; the store is the second. A singleton
// write goes through TransactFenced, on the lock's own connection, with
// an "assert" operation (RFC 7047 5.2.10) first: the server refuses the
// whole transaction ("not owner") unless this connection owns the lock
// there. The assert is checked by the server the lock lives on; with rule
// 1 that is the leader, which also commits the write.
//
// Threads: Start() runs one thread that owns the connection (connects,
// probes, answers the server's echo requests, takes notifications). held(),
// WaitHeld() and TransactFenced() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tvd/master/lock_state.h"
#include "tvd/mutex.h"
#include "tvd/status.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"

namespace tvd::master {

struct OvsdbLockOptions {
  // "unix:PATH" or "tcp:IP:PORT" (ParseOvsdbRemotes' forms).
  std::vector<std::string> remotes;
  std::string database = "TVD_Master";
  // The OVSDB lock's name (an <id>: letters, digits, '_', not starting
  // with a digit).
  std::string lock_name;
  std::chrono::milliseconds probe{250};
  std::chrono::milliseconds hold{1000};
  // The cluster's Raft election timer (ovsdb-tool's default: 1000 ms); a
  // larger one on the cluster breaks rule 3 above.
  std::chrono::milliseconds election_timer{1000};
  // One request's answer (connect, probe, lock, a fenced transaction).
  std::chrono::milliseconds call_timeout{2000};

  // Timing derived from one figure, the takeover bound: hold = (takeover -
  // election_timer) / 3 (at least 100 ms), probe = hold / 4, call_timeout
  // = hold, so settle = hold + election_timer. A holder that dies (its
  // connection closes) is replaced after settle plus one probe; a dead
  // leader after the election plus that; both within `takeover` while the
  // election takes less than twice `hold` (measured: docs/master.md).
  static OvsdbLockOptions ForTakeover(std::chrono::milliseconds takeover,
                                      std::chrono::milliseconds election_timer =
                                          std::chrono::milliseconds(1000));
};

class OvsdbLock {
 public:
  struct Counters {
    std::uint64_t grants = 0;       // times the server granted the lock
    std::uint64_t losses = 0;       // grants that ended (drop, stolen, ...)
    std::uint64_t connections = 0;  // connections to a leader made
  };

  // Checks the options and starts the thread; connecting happens there
  // (WaitHeld waits for it). InvalidArgument "OVSDB lock name 'X' is not
  // an identifier", "OVSDB lock: probe (N ms) must be shorter than hold (M
  // ms)", ParseOvsdbRemotes' errors.
  static StatusOr<std::unique_ptr<OvsdbLock>> Start(OvsdbLockOptions options);
  ~OvsdbLock();
  OvsdbLock(const OvsdbLock&) = delete;
  OvsdbLock& operator=(const OvsdbLock&) = delete;

  // Closes the connection (which releases the lock on the server) and
  // stops the thread. held() is false from then on. Idempotent.
  void Stop();

  // May this replica act as the holder now (rules 2 and 3).
  bool held() const;
  // Waits until held(). Timeout "OVSDB lock 'X' not held within N ms".
  Status WaitHeld(std::chrono::milliseconds wait) const;

  // The operation that makes a transaction fail unless this connection
  // owns lock `name`: {"op": "assert", "lock": name}.
  static nlohmann::json AssertOp(const std::string& name);

  enum class Check {
    kHeld,        // refuse locally unless held(), then send with the assert
    kServerOnly,  // send with the assert; only the server decides
  };
  // Runs `ops` (a JSON array) as one transaction on the lock's own
  // connection, preceded by AssertOp(lock_name). Returns the results of
  // `ops` (the assert's is dropped). Errors:
  //  - FailedPrecondition "OVSDB lock 'X' is not held by this replica"
  //    (kHeld and !held(), or no connection);
  //  - FailedPrecondition "OVSDB lock 'X' is not held by this replica: the
  //    server refused the assert: not owner: ..." (the server's verdict);
  //  - FailedPrecondition "OVSDB transaction failed at operation I (OP
  //    TABLE): ERROR: DETAILS" for an operation of `ops`;
  //  - Unavailable when the connection is lost before the answer (the
  //    transaction may have committed: callers make it safe to repeat).
  StatusOr<nlohmann::json> TransactFenced(const nlohmann::json& ops,
                                          Check check = Check::kHeld);

  // The remote of the current connection ("" when none), the last probe's
  // view of that server, and the counters.
  std::string remote() const;
  std::optional<ServerStatus> server_status() const;
  Counters counters() const;
  const OvsdbLockOptions& options() const { return options_; }

 private:
  struct Conn;
  explicit OvsdbLock(OvsdbLockOptions options);
  void Run();
  // Connects to `remote`, probes it, asks for the lock. Under io_mu_.
  Status ConnectTo(const std::string& remote) TVD_REQUIRES(io_mu_);
  // Sends one request and handles what arrives until its reply (by
  // `deadline`).
  StatusOr<nlohmann::json> RoundTrip(const std::string& method,
                                     const nlohmann::json& params,
                                     LockClock::time_point deadline)
      TVD_REQUIRES(io_mu_);
  // Handles everything that arrives within `wait`.
  Status PollOnce(std::chrono::milliseconds wait) TVD_REQUIRES(io_mu_);
  Status Handle(const vswitch::JsonRpcMessage& msg) TVD_REQUIRES(io_mu_);
  Status Probe() TVD_REQUIRES(io_mu_);
  // Closes the connection; the lock is lost.
  void Drop(const std::string& why) TVD_REQUIRES(io_mu_);
  bool stopping() const TVD_EXCLUDES(state_mu_);
  void SleepFor(std::chrono::milliseconds d) TVD_EXCLUDES(state_mu_);

  const OvsdbLockOptions options_;

  // Only the I/O thread and TransactFenced touch the connection, under
  // io_mu_; io_waiters_ makes the I/O thread let a waiting caller in.
  Mutex io_mu_;
  std::atomic<int> io_waiters_{0};
  std::unique_ptr<Conn> conn_ TVD_GUARDED_BY(io_mu_);

  mutable Mutex state_mu_;
  mutable CondVar state_cv_;
  LockState state_ TVD_GUARDED_BY(state_mu_);
  std::string remote_ TVD_GUARDED_BY(state_mu_);
  std::optional<ServerStatus> server_ TVD_GUARDED_BY(state_mu_);
  Counters counters_ TVD_GUARDED_BY(state_mu_);
  bool stop_ TVD_GUARDED_BY(state_mu_) = false;

  std::size_t next_remote_ = 0;  // I/O thread only
  std::thread thread_;
};

}  // namespace tvd::master
