// The master's connection to its replicated store: one OVSDB server at a
// time out of a list of remotes, always one that may answer for the
// database with fresh data (a standalone server, or the leader of a Raft
// cluster, as _Server's Database table says).
//
// Clustered OVSDB forwards writes from followers to the leader, but a
// follower may answer reads from a stale copy (ovsdb(7), "Understanding
// Cluster Consistency"); the store reads its own writes, so it talks to the
// leader only. When the server drops, stops being the leader, or times out,
// the link moves to the next remote that is the leader (an election takes
// about a second) and sends the transaction again: the store only sends
// transactions that are safe to apply twice (ovsdb_store.h says how).
//
// Not thread-safe: the store serializes its calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"

namespace tvd::master {

struct OvsdbLinkOptions {
  // "unix:PATH" (absolute) or "tcp:IP:PORT" (numeric IPv4, or [IPv6]).
  std::vector<std::string> remotes;
  std::string database = "TVD_Master";
  // The schema version this master reads and writes.
  std::string schema_version;
  // One request's answer; then the server counts as gone.
  std::chrono::milliseconds call_timeout{5000};
  // How long to look for a leader among the remotes before giving up.
  std::chrono::milliseconds failover_timeout{20000};
  // Consulted before every attempt (each connect, each request): an error
  // ends the call with it at once instead of trying on until
  // failover_timeout (the master is cut off from its store: store_gate.h).
  // Unset: always try.
  std::function<Status()> gate{};
};

// Splits "REMOTE[,REMOTE...]". InvalidArgument "OVSDB remote 'X' is not
// unix:/ABSOLUTE/PATH or tcp:IP:PORT", "no OVSDB remote given".
StatusOr<std::vector<std::string>> ParseOvsdbRemotes(std::string_view spec);

// What one transaction came to, when a server answered it.
struct TxnOutcome {
  bool ok = false;
  nlohmann::json results;                // one result per operation
  std::optional<std::size_t> failed_op;  // unset: the commit failed
  std::string error;                     // RFC 7047 error, e.g. "timed out"
  std::string details;
};

class OvsdbLeaderLink {
 public:
  explicit OvsdbLeaderLink(OvsdbLinkOptions options);

  // Finds a server to talk to. Errors that no other remote can mend are
  // returned at once (FailedPrecondition naming the remote):
  //   "OVSDB REMOTE serves no TVD_Master database (it serves: A, B)"
  //   "OVSDB REMOTE: TVD_Master schema version V, this master needs W"
  //   ProtocolError "OVSDB REMOTE: corrupt reply: ..." (a reply that does
  //   not decode).
  // Unavailable "no OVSDB leader for TVD_Master among R1, R2 within N ms
  // (R1: why; R2: why)" when none could be used in time.
  Status Connect();

  // Runs `ops` as one transaction on the database. A server that answered
  // gives a TxnOutcome (ok, or the operation / commit that failed); losing
  // the server, a timeout, or a commit error other than a constraint
  // violation moves to another leader and sends `ops` again, until
  // failover_timeout (one deadline for the whole call). IoError "state
  // store TVD_Master at R1, R2: no transaction completed within N ms:
  // <last reason>" then; the gate's error as soon as the gate refuses.
  StatusOr<TxnOutcome> Transact(const nlohmann::json& ops);
  // As Transact for a transaction that only reads: on a cluster it first
  // checks that the server is still the leader (a deposed leader may answer
  // from a stale copy), and moves on if not.
  StatusOr<TxnOutcome> Read(const nlohmann::json& ops);

  // The remote in use ("" before Connect) and how often the link moved.
  const std::string& remote() const { return remote_; }
  std::uint64_t failovers() const { return failovers_; }
  std::string remotes_text() const;

 private:
  Status ConnectBy(std::chrono::steady_clock::time_point deadline);
  // Connects to one remote; sets *retry when another remote may do better.
  Status TryRemote(const std::string& remote, bool* retry);
  // Reads _Server's row of the database: OK when the server may answer
  // (standalone, or the connected leader); Unavailable otherwise.
  Status CheckServer(vswitch::OvsdbClient& client, const std::string& remote,
                     bool* retry);
  StatusOr<TxnOutcome> Run(const nlohmann::json& ops, bool check_leader);
  void Drop();

  OvsdbLinkOptions options_;
  std::unique_ptr<vswitch::OvsdbClient> client_;
  std::string remote_;
  bool clustered_ = false;
  std::size_t next_ = 0;  // remote to try first
  std::uint64_t failovers_ = 0;
};

}  // namespace tvd::master
