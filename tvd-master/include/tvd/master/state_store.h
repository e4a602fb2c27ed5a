// The master's durable state: SQLite in WAL mode with synchronous=FULL, so
// a write that returned OK survives a crash (the master writes before it
// answers). One connection guarded by a mutex; every method is thread-safe.
//
// Tables: tvds (name, policy XML, canonical digest, key epoch), hosts
// (underlay address, attestation state), aks (enrolled AK public areas),
// memberships (tvd, host), vms (tvd, host, vm), disk_keys (tvd, vm, key
// wrapped under the KEK), ak_clocks (the last TPM reset/restart count and
// clock each AK quoted), quota_usage (tvd, host: what the host's relay last
// claimed against the TVD's total quota), audit (every decision). Tables are
// created when missing, so a database from an older master gains the new ones
// on open. Keys are never stored in clear: TVD keys of the current epoch and
// disk keys are stored wrapped under the KEK.
//
// Errors: IoError "state db PATH: <sqlite message>" for anything SQLite
// refuses; NotFound for lookups of absent rows where stated.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tvd/mutex.h"
#include "tvd/policy/quota.h"
#include "tvd/status.h"

struct sqlite3;

namespace tvd::master {

struct TvdRow {
  std::string name;
  std::string policy_xml;
  std::string digest_hex;
  std::uint64_t epoch = 0;
  // Changes with every decision that changes the row (policy, epoch): the
  // precondition of the next one (TvdTransition). Empty in rows written
  // before tokens were kept.
  std::string token{};
  // The key of `epoch` under the KEK (WrapTvdKey); empty when not stored.
  // Replicas share it; it is never stored in clear.
  std::vector<std::uint8_t> key_wrapped{};
};

// Why a member went from a TVD, stored with its removal (TvdTransition::
// departure) so that the replicas that hear of the removal through the
// store tell their members what the deciding master told its own: a host
// that left is not announced as evicted.
struct Departure {
  bool left = false;   // true: the host left; false: it was evicted
  std::string reason;  // as in the LeaveNotice the decision sent
};

// One decision on one TVD, applied as one transaction and only while the
// stored row is the one the decision was made on: applied twice or by two
// masters at once, it takes effect once. Memberships a TVD gains are kept
// when present (a join commutes with other joins); removing a member also
// removes its VMs and quota figure (RemoveMember).
struct TvdTransition {
  std::string tvd;
  // true: the TVD must not exist yet. false: its stored token must be
  // `expect_token`.
  bool create = false;
  std::string expect_token;
  std::optional<TvdRow> row;  // the new row; unset: the row stays as it is
  bool remove_tvd = false;    // the TVD and all its rows go
  std::vector<std::string> add_members;
  std::vector<std::string> remove_members;
  // Why `remove_members` go. The OVSDB store keeps it in the Departure
  // table, which the other replicas watch (StoreMirror), until the
  // member's next removal replaces it. The SQLite store has no other
  // replica to tell and keeps none.
  std::optional<Departure> departure{};
  // A decision only the holder of the singleton duties may make (an
  // eviction at its deadline, singleton_duties.h): it commits only while
  // this master holds the duty lock. The OVSDB store sends it on the
  // lock's own connection behind the lock's `assert` (OvsdbStore::
  // SetTransitionFence) and refuses it with PermissionDenied when the lock
  // is not held; the SQLite store (one master, which always holds the
  // duties) applies it as any other.
  bool fenced = false;
};

// Whether `t` may be applied to the `stored` row: OK, or FailedPrecondition
// "TVD X exists already" (create), "TVD X is gone", "TVD X changed on another
// master" (the token differs). A store's Transition returns these and only
// these as FailedPrecondition, so a caller can tell a lost race (decide
// again on the stored state) from a store failure. A fenced transition
// refused because this master does not hold the duty lock is
// PermissionDenied (nothing written; deciding again would not help).
Status CheckTransition(const TvdTransition& t,
                       const std::optional<TvdRow>& stored);

// Whether `stored` shows `t` applied already (a transition sent again after
// its answer was lost): its new row's token is stored, or the TVD it
// removes is gone.
bool AlreadyApplied(const TvdTransition& t,
                    const std::optional<TvdRow>& stored);

// For logs and tests: "Transition blue epoch 2 +node1 -node2", "Transition
// red new epoch 1", "Transition red removed".
std::string Describe(const TvdTransition& t);

struct HostRow {
  std::string name;
  std::string underlay;
  bool attested = false;
  std::string attestation_reason;  // empty when attested
  std::int64_t attested_at = 0;    // unix seconds of the last verdict
};

struct VmRow {
  std::string tvd;
  std::string host;
  std::string vm;
  std::string uuid;  // as reported; empty when unknown
};

// A VM's vTPM as its host recorded it (RecordVtpm): which host made it,
// its endorsement key and the signing key under its endorsement hierarchy
// (marshalled TPM2B_PUBLIC each), and when the master recorded it.
struct VtpmBindingRow {
  std::string tvd;
  std::string vm;
  std::string host;
  std::vector<std::uint8_t> ek_public;
  std::vector<std::uint8_t> ak_public;
  std::int64_t created_at = 0;  // unix seconds
  friend bool operator==(const VtpmBindingRow&,
                         const VtpmBindingRow&) = default;
};

// What one host holds against a TVD's total quota (TotalQuotaLedger).
struct QuotaUsageRow {
  std::string tvd;
  std::string host;
  policy::QuotaAmounts amounts;
};

// The last TPMS_CLOCK_INFO an AK showed in a verified quote.
struct AkClockRow {
  std::vector<std::uint8_t> ak_name;  // TPM name
  std::uint64_t clock = 0;
  std::uint32_t reset_count = 0;
  std::uint32_t restart_count = 0;
};

struct AuditRow {
  std::int64_t id = 0;
  std::int64_t at = 0;  // unix seconds
  std::string actor;    // identity ("host:node1", "admin:alice", "master")
  std::string action;   // "join", "leave", "evict", "tvd-add", ...
  std::string subject;  // what it was about ("blue/node1", ...)
  bool allowed = false;
  std::string reason;
};

class StateStore {
 public:
  // Opens or creates the database at `path`, sets WAL + synchronous=FULL
  // and creates the tables.
  static StatusOr<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  Status PutTvd(const TvdRow& row);  // insert or replace
  // Removes the TVD with its memberships, VMs, disk keys, vTPMs and quota
  // usage.
  Status RemoveTvd(const std::string& name);
  Status SetEpoch(const std::string& tvd, std::uint64_t epoch);
  StatusOr<std::vector<TvdRow>> ListTvds();

  Status UpsertHost(const std::string& host, const std::string& underlay);
  Status SetAttestation(const std::string& host, bool ok,
                        const std::string& reason);
  StatusOr<std::vector<HostRow>> ListHosts();

  Status AddAk(const std::string& host, const std::vector<std::uint8_t>& ak);
  StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
  ListAks();

  // Records the AK's clock state unless the stored one is later (reset
  // count, restart count, clock compared in that order): callers may race.
  // InvalidArgument "TPM clock N is out of range for the state db" above
  // 2^63-1.
  Status PutAkClock(const AkClockRow& row);
  StatusOr<std::vector<AkClockRow>> ListAkClocks();

  Status AddMember(const std::string& tvd, const std::string& host);
  // Removes the membership, the VMs the host reported in that TVD, the
  // vTPMs it recorded there and its quota usage there (one transaction).
  Status RemoveMember(const std::string& tvd, const std::string& host);
  // CheckTransition's FailedPrecondition when the precondition does not
  // hold; nothing is written then.
  Status Transition(const TvdTransition& t);
  // The stored row of one TVD, nullopt when there is none.
  StatusOr<std::optional<TvdRow>> LoadTvd(const std::string& name);
  StatusOr<std::vector<std::string>> Members(const std::string& tvd);

  // attached: insert or replace (tvd, vm) -> host, uuid; detached: remove
  // the row of that host and the vTPM that host recorded for the VM (a
  // stale detach from another host changes nothing).
  Status SetVm(const std::string& tvd, const std::string& host,
               const std::string& vm, bool attached,
               const std::string& uuid = "");
  StatusOr<std::vector<VmRow>> Vms(const std::string& tvd);

  Status PutWrappedDiskKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped);
  // nullopt when no key exists yet.
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedDiskKey(
      const std::string& tvd, const std::string& vm);

  // A VM's vTPM: one row per (tvd, vm) holding the wrapped state key and,
  // once the host recorded the vTPM, its binding. The row goes with the
  // vTPM's host (RemoveMember, and SetVm detaching that VM from that host)
  // and with its TVD: the host wipes the state then, so the next vTPM of
  // that VM gets a new key.
  //
  // Never overwrites: AlreadyExists when a key is stored (the SQLite store
  // says IoError "... UNIQUE constraint failed ...").
  Status PutWrappedVtpmKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped);
  // nullopt when no key exists.
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedVtpmKey(
      const std::string& tvd, const std::string& vm);
  // Records (or replaces) the binding of the vTPM whose key is stored.
  // NotFound "no vTPM key of TVD/VM" when none is.
  Status RecordVtpmBinding(const VtpmBindingRow& row);
  // nullopt when the VM has no recorded vTPM.
  StatusOr<std::optional<VtpmBindingRow>> GetVtpmBinding(const std::string& tvd,
                                                         const std::string& vm);
  // The TVD's recorded vTPMs, by VM name.
  StatusOr<std::vector<VtpmBindingRow>> ListVtpmBindings(
      const std::string& tvd);

  // Insert or replace the host's figure (amounts above 2^63-1 are stored
  // as 2^63-1).
  Status PutQuotaUsage(const QuotaUsageRow& row);
  StatusOr<std::vector<QuotaUsageRow>> ListQuotaUsage();

  Status Audit(const std::string& actor, const std::string& action,
               const std::string& subject, bool allowed,
               const std::string& reason);
  // The newest `limit` rows, newest first.
  StatusOr<std::vector<AuditRow>> RecentAudit(int limit);

  // One SQLite transaction for many writes (the write journal's batches,
  // store_batch.h): BeginBatch starts it (BEGIN IMMEDIATE) and makes every
  // call from this thread part of it until EndBatch, which commits it or
  // rolls it back; meanwhile other threads' calls wait. Within it, each
  // journal entry is a savepoint: BeginEntry opens the next, DropEntry
  // undoes the current one. A method's own transaction becomes a nested
  // savepoint then, so a failed write still changes nothing.
  Status BeginBatch();
  Status BeginEntry();
  Status DropEntry();
  Status EndBatch(bool commit);

 private:
  // Holds mutex_ for a call; from a thread other than the batch's, it
  // first waits for the batch to end.
  class TVD_SCOPED_CAPABILITY Use {
   public:
    explicit Use(StateStore& s) TVD_ACQUIRE(s.mutex_);
    ~Use() TVD_RELEASE();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    StateStore& s_;
    bool gated_ = false;
  };
  // A method's own transaction: BEGIN IMMEDIATE alone, a savepoint in a
  // batch.
  Status BeginTxn() TVD_REQUIRES(mutex_);
  Status CommitTxn() TVD_REQUIRES(mutex_);
  void RollbackTxn() TVD_REQUIRES(mutex_);

  StateStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const std::string& sql) TVD_REQUIRES(mutex_);
  Status Error(const std::string& what) const TVD_REQUIRES(mutex_);
  Status PutTvdLocked(const TvdRow& r) TVD_REQUIRES(mutex_);
  StatusOr<std::optional<TvdRow>> LoadTvdLocked(const std::string& name)
      TVD_REQUIRES(mutex_);
  // The stored row with its name and token only: all a transition's
  // precondition looks at (CheckTransition, AlreadyApplied).
  StatusOr<std::optional<TvdRow>> LoadTvdTokenLocked(const std::string& name)
      TVD_REQUIRES(mutex_);
  Status TransitionLocked(const TvdTransition& t) TVD_REQUIRES(mutex_);
  // The one blob `sql` selects for (tvd, vm), nullopt for no row.
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedKey(
      const char* sql, const std::string& what, const std::string& tvd,
      const std::string& vm);
  // Recorded vTPM rows of `sql` bound to tvd (and vm unless empty).
  StatusOr<std::vector<VtpmBindingRow>> VtpmRowsLocked(const char* sql,
                                                       const std::string& tvd,
                                                       const std::string& vm)
      TVD_REQUIRES(mutex_);

  mutable Mutex mutex_;
  sqlite3* db_ TVD_PT_GUARDED_BY(mutex_);
  std::string path_;
  // Held by the batch's thread from BeginBatch to EndBatch.
  std::mutex batch_gate_;
  std::atomic<std::thread::id> batch_owner_{};
  bool in_batch_ TVD_GUARDED_BY(mutex_) = false;
  bool entry_open_ TVD_GUARDED_BY(mutex_) = false;
};

}  // namespace tvd::master
