// The master's state on OVSDB: a standalone ovsdb-server or a Raft cluster
// of them (ovsdb-tool create-cluster / join-cluster), with the project's
// schema tvd-master/tvd_master.ovsschema (database TVD_Master). Several
// masters may share one store.
//
// OvsdbStore implements Store with the contract of the SQLite StateStore
// (state_store.h), and keeps it when several masters write at once:
//  - every write is ONE transaction; RemoveTvd and RemoveMember delete all
//    their rows in it;
//  - natural keys are schema indexes, so two writers never make duplicate
//    rows;
//  - "insert or ignore" and "insert or update" (UpsertHost,
//    SetAttestation, AddAk, AddMember, SetVm, PutQuotaUsage) delete the
//    row and insert it whole in one transaction (ovsdb_store_ops.h):
//    nothing is read first, and a batch can carry it (a host's underlay
//    and its attestation are rows of two tables, Host and Attestation, each
//    written whole by its own writer);
//  - PutAkClock reads the stored clock and replaces it only under a `wait`
//    that the row still holds what was read, so the later clock wins
//    whoever writes last; a failed wait re-reads and retries (in a batch
//    it waits for what this store last saw, without a read);
//  - Audit ids come from blocks of 256 that each store reserves from
//    Store_Identity.audit_seq under a `wait`: unique, in order per replica,
//    not across replicas (RecentAudit reads the newest by time, then id);
//    each row carries a random token so a transaction sent twice (after a
//    lost answer) is recognised and not counted twice;
//  - PutWrappedDiskKey and PutWrappedVtpmKey never overwrite (an index on
//    tvd, vm);
//  - Transition runs under a `wait` on the TVD row's token (or its absence
//    for a new TVD); when the wait fails, the stored token tells a
//    transition that already went through (sent again after a lost answer:
//    the token is its own new one) from one another master beat.
// Every transaction is safe to send again after its answer was lost, which
// is what the leader link does when it fails over (ovsdb_leader_link.h).
//
// Reads go to the leader, checked before each read (fresh); results are
// sorted as the SQLite store
// sorts them. Errors: IoError "state store TVD_Master at REMOTES: <what>:
// <OVSDB error>: <details>", the link's errors (server gone, no leader),
// ProtocolError for a reply that does not decode (ovsdb_store_rows.h),
// InvalidArgument "...: a value is not valid UTF-8 (OVSDB strings are
// UTF-8); nothing written" (names and text are stored as OVSDB strings;
// only audit rows keep such text, with U+FFFD for the invalid bytes).
// Thread-safe (one mutex, held across the server round trips: it is the
// store's own serialization, as in StateStore).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tvd/master/ovsdb_leader_link.h"
#include "tvd/master/ovsdb_row_addresses.h"
#include "tvd/master/store.h"
#include "tvd/master/store_gate.h"
#include "tvd/mutex.h"
#include "tvd/secure_bytes.h"

namespace tvd::master {

// The schema version this code reads and writes (tvd_master.ovsschema).
inline constexpr char kTvdMasterSchemaVersion[] = "1.4.0";

struct OvsdbStoreOptions {
  std::vector<std::string> remotes;  // ParseOvsdbRemotes
  std::chrono::milliseconds call_timeout{5000};
  std::chrono::milliseconds failover_timeout{20000};
  // Null: none. Else every call gives up with the gate's error while it
  // is closed (OvsdbLinkOptions::gate; the master's StoreFence closes it).
  StoreGatePtr gate{};
};

class OvsdbStore final : public Store {
 public:
  // Connects (a leader, see OvsdbLeaderLink::Connect for the errors: a
  // foreign database, a schema version mismatch, a corrupt reply) and checks
  // the store's identity: an empty store gets its Store_Identity row with
  // the check value of `kek` (kek_check.h); a store made with another KEK is
  // refused with FailedPrecondition "state store TVD_Master at REMOTES was
  // created with another KEK (check value differs): this master's KEK
  // cannot unwrap its disk keys". A refused open writes nothing.
  static StatusOr<std::unique_ptr<OvsdbStore>> Open(OvsdbStoreOptions options,
                                                    const SecureBytes& kek);

  Status PutTvd(const TvdRow& row) override;
  Status RemoveTvd(const std::string& name) override;
  Status SetEpoch(const std::string& tvd, std::uint64_t epoch) override;
  StatusOr<std::vector<TvdRow>> ListTvds() override;
  Status Transition(const TvdTransition& t) override;
  StatusOr<std::optional<TvdRow>> LoadTvd(const std::string& name) override;
  Status UpsertHost(const std::string& host,
                    const std::string& underlay) override;
  Status SetAttestation(const std::string& host, bool ok,
                        const std::string& reason) override;
  StatusOr<std::vector<HostRow>> ListHosts() override;
  Status AddAk(const std::string& host,
               const std::vector<std::uint8_t>& ak) override;
  StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
  ListAks() override;
  Status PutAkClock(const AkClockRow& row) override;
  StatusOr<std::vector<AkClockRow>> ListAkClocks() override;
  Status AddMember(const std::string& tvd, const std::string& host) override;
  Status RemoveMember(const std::string& tvd, const std::string& host) override;
  StatusOr<std::vector<std::string>> Members(const std::string& tvd) override;
  Status SetVm(const std::string& tvd, const std::string& host,
               const std::string& vm, bool attached,
               const std::string& uuid) override;
  StatusOr<std::vector<VmRow>> Vms(const std::string& tvd) override;
  Status PutWrappedDiskKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped) override;
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedDiskKey(
      const std::string& tvd, const std::string& vm) override;
  Status PutWrappedVtpmKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped) override;
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedVtpmKey(
      const std::string& tvd, const std::string& vm) override;
  Status RecordVtpmBinding(const VtpmBindingRow& row) override;
  StatusOr<std::optional<VtpmBindingRow>> GetVtpmBinding(
      const std::string& tvd, const std::string& vm) override;
  StatusOr<std::vector<VtpmBindingRow>> ListVtpmBindings(
      const std::string& tvd) override;
  Status PutQuotaUsage(const QuotaUsageRow& row) override;
  StatusOr<std::vector<QuotaUsageRow>> ListQuotaUsage() override;
  Status Audit(const std::string& actor, const std::string& action,
               const std::string& subject, bool allowed,
               const std::string& reason) override;
  StatusOr<std::vector<AuditRow>> RecentAudit(int limit) override;
  // Writes of many journal entries as one transaction (OvsdbStoreBatch in
  // ovsdb_store_batch.h: which writes join one).
  std::unique_ptr<StoreBatch> BeginBatch() override;

  // Where fenced transitions (TvdTransition::fenced: the evictions of the
  // singleton duties) go: `transact` runs the transition's operations as
  // one transaction behind the duty lock's `assert`, on the lock's own
  // connection (OvsdbLock::TransactFenced with Check::kHeld; its errors).
  // A fenced transition is then refused with PermissionDenied "<where>:
  // <transition>: OVSDB lock 'X' is not held by this replica[: the server
  // refused the assert: ...]; nothing written" when this master does not
  // hold the lock, "...: OVSDB lock connection lost during a fenced
  // transaction; outcome unknown: ...; not stored" when its lock
  // connection dropped before the answer and the transition is not stored
  // (a master that lost that connection holds the lock no more); without a
  // fence (none set, or unset by passing {}), with PermissionDenied "<where>:
  // <transition>: no duty lock to fence it with; nothing written". Its other
  // outcomes are those of any transition.
  using FencedTransact =
      std::function<StatusOr<nlohmann::json>(const nlohmann::json& ops)>;
  void SetTransitionFence(FencedTransact transact);

  // Conditional writes that lost a race to another writer and were retried
  // (a failed wait, an insert beaten by another), and leader fail-overs.
  std::uint64_t races() const { return races_.load(); }
  std::uint64_t failovers();
  // The remote in use now.
  std::string remote();

 private:
  explicit OvsdbStore(OvsdbLinkOptions options);
  using Json = nlohmann::json;

  StatusOr<TxnOutcome> Txn(const Json& ops) TVD_REQUIRES(mutex_);
  // Sends `ops` with their rows addressed by uuid where this store knows
  // them (ovsdb_row_addresses.h). A guess that a constraint violation or a
  // failed wait proves wrong is forgotten; after a constraint violation the
  // operations go again as they were.
  StatusOr<TxnOutcome> Addressed(const Json& ops) TVD_REQUIRES(mutex_);
  // Learns where the rows of the per-host tables are (at start-up).
  Status LearnRowAddresses() TVD_REQUIRES(mutex_);
  Status CheckUtf8(const Json& ops) const;
  Status Failed(const std::string& what, const TxnOutcome& out) const;
  // One transaction that must succeed.
  Status Write(const std::string& what, const Json& ops) TVD_REQUIRES(mutex_);
  // The rows one select returns: all columns, or only `columns`.
  StatusOr<std::vector<Json>> Select(const std::string& what,
                                     const std::string& table, Json where,
                                     std::vector<std::string> columns = {})
      TVD_REQUIRES(mutex_);
  // `n` audit ids never used before: the first of them. Taken from a block
  // this store reserved in Store_Identity.audit_seq under a `wait`, a new
  // block when this one runs out.
  StatusOr<std::int64_t> ReserveAuditIds(std::int64_t n) TVD_REQUIRES(mutex_);
  static std::string AuditToken();
  // Inserts `row` (a wrapped key of tvd/vm in `table`) unless a row of that
  // (tvd, vm) is there: OK when it holds `wrapped` already (the insert was
  // sent twice), else AlreadyExists (a key is never overwritten).
  Status PutWrappedOnce(
      const std::string& what, const std::string& table, const std::string& tvd,
      const std::string& vm, const Json& row,
      const std::vector<std::uint8_t>& wrapped,
      StatusOr<std::vector<std::uint8_t>> (*decode)(const Json&));
  Status CheckIdentity(const std::string& kek_check) TVD_REQUIRES(mutex_);
  StatusOr<std::optional<TvdRow>> LoadTvdLocked(const std::string& name)
      TVD_REQUIRES(mutex_);

  // A transition's operations through the fence (SetTransitionFence):
  // the outcome as a TxnOutcome of `ops`, or the refusal.
  StatusOr<TxnOutcome> FencedTxn(const TvdTransition& t,
                                 const std::string& what, const Json& ops)
      TVD_REQUIRES(mutex_);

  Mutex mutex_;
  OvsdbLeaderLink link_ TVD_GUARDED_BY(mutex_);
  FencedTransact fence_ TVD_GUARDED_BY(mutex_);
  std::string where_;  // "state store TVD_Master at REMOTES"
  std::atomic<std::uint64_t> races_{0};
  // The audit ids reserved and not yet used: audit_next_..audit_last_.
  static constexpr std::int64_t kAuditIdBlock = 256;
  std::int64_t audit_next_ TVD_GUARDED_BY(mutex_) = 0;
  std::int64_t audit_last_ TVD_GUARDED_BY(mutex_) = 0;
  // The AK clock rows this store last saw stored, by AK name (hex): what a
  // batch's PutAkClock waits for (OvsdbStoreBatch).
  std::map<std::string, AkClockRow> ak_clocks_ TVD_GUARDED_BY(mutex_);
  OvsdbRowAddresses addresses_ TVD_GUARDED_BY(mutex_);

  friend class OvsdbStoreBatch;
};

// The Store the daemon uses with `store = ovsdb:REMOTES` (OvsdbStore::Open).
StatusOr<StorePtr> OpenOvsdbStore(OvsdbStoreOptions options,
                                  const SecureBytes& kek);

}  // namespace tvd::master
