#include "tvd/master/state_store.h"

#include <sqlite3.h>

#include <cstdint>
#include <ctime>
#include <variant>

#include "tvd/mutex.h"

namespace tvd::master {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS tvds(
  name TEXT PRIMARY KEY, policy_xml TEXT NOT NULL, digest TEXT NOT NULL,
  epoch INTEGER NOT NULL, token TEXT NOT NULL DEFAULT '',
  key_wrapped BLOB NOT NULL DEFAULT x'');
CREATE TABLE IF NOT EXISTS hosts(
  name TEXT PRIMARY KEY, underlay TEXT NOT NULL DEFAULT '',
  attested INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
  attested_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS aks(
  host TEXT NOT NULL, ak BLOB NOT NULL, PRIMARY KEY(host, ak));
CREATE TABLE IF NOT EXISTS memberships(
  tvd TEXT NOT NULL, host TEXT NOT NULL, since INTEGER NOT NULL,
  PRIMARY KEY(tvd, host));
CREATE TABLE IF NOT EXISTS vms(
  tvd TEXT NOT NULL, host TEXT NOT NULL, vm TEXT NOT NULL,
  uuid TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(tvd, vm));
CREATE TABLE IF NOT EXISTS disk_keys(
  tvd TEXT NOT NULL, vm TEXT NOT NULL, wrapped BLOB NOT NULL,
  PRIMARY KEY(tvd, vm));
CREATE TABLE IF NOT EXISTS vtpms(
  tvd TEXT NOT NULL, vm TEXT NOT NULL, wrapped BLOB NOT NULL,
  host TEXT NOT NULL DEFAULT '', ek BLOB NOT NULL DEFAULT x'',
  ak BLOB NOT NULL DEFAULT x'', created_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(tvd, vm));
CREATE TABLE IF NOT EXISTS ak_clocks(
  ak_name BLOB PRIMARY KEY, reset_count INTEGER NOT NULL,
  restart_count INTEGER NOT NULL, clock INTEGER NOT NULL,
  at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quota_usage(
  tvd TEXT NOT NULL, host TEXT NOT NULL, domains INTEGER NOT NULL,
  vcpus INTEGER NOT NULL, memory_kib INTEGER NOT NULL,
  disk_bytes INTEGER NOT NULL, PRIMARY KEY(tvd, host));
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
  allowed INTEGER NOT NULL, reason TEXT NOT NULL);
)sql";

using Value =
    std::variant<std::string, std::int64_t, std::vector<std::uint8_t>>;

// One prepared statement, finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool Bind(std::initializer_list<Value> values) {
    if (rc_ != SQLITE_OK) return false;
    int i = 1;
    for (const Value& v : values) {
      int rc;
      if (const auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text(stmt_, i, s->data(), static_cast<int>(s->size()),
                               SQLITE_TRANSIENT);
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt_, i, *n);
      } else {
        const auto& b = std::get<std::vector<std::uint8_t>>(v);
        rc = sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()),
                               SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) return false;
      ++i;
    }
    return true;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(
                   reinterpret_cast<const char*>(t),
                   static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::vector<std::uint8_t> Blob(int col) {
    const auto* p =
        static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::vector<std::uint8_t>(p, p + n)
             : std::vector<std::uint8_t>();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// What goes with a host's membership of a TVD (bound to tvd, host).
constexpr const char* kRemoveMemberSql[] = {
    "DELETE FROM memberships WHERE tvd=? AND host=?",
    "DELETE FROM vms WHERE tvd=? AND host=?",
    "DELETE FROM vtpms WHERE tvd=? AND host=?",
    "DELETE FROM quota_usage WHERE tvd=? AND host=?"};

}  // namespace

StatusOr<std::unique_ptr<StateStore>> StateStore::Open(
    const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return IoError("state db " + path + ": " + why);
  }
  std::unique_ptr<StateStore> store(new StateStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  Use lock(*store);
  TVD_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL;"));
  TVD_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL;"));
  TVD_RETURN_IF_ERROR(store->Exec(kSchema));
  // Databases from before VM UUIDs were stored get the column.
  bool has_uuid;
  {
    Stmt q(db, "SELECT 1 FROM pragma_table_info('vms') WHERE name='uuid'");
    has_uuid = q.Step() == SQLITE_ROW;
  }
  if (!has_uuid) {
    TVD_RETURN_IF_ERROR(store->Exec(
        "ALTER TABLE vms ADD COLUMN uuid TEXT NOT NULL DEFAULT '';"));
  }
  // And from before TVD rows carried a token and their wrapped key.
  bool has_token;
  {
    Stmt q(db, "SELECT 1 FROM pragma_table_info('tvds') WHERE name='token'");
    has_token = q.Step() == SQLITE_ROW;
  }
  if (!has_token) {
    TVD_RETURN_IF_ERROR(store->Exec(
        "ALTER TABLE tvds ADD COLUMN token TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE tvds ADD COLUMN key_wrapped BLOB NOT NULL DEFAULT x'';"));
  }
  return store;
}

StateStore::~StateStore() { sqlite3_close(db_); }

StateStore::Use::Use(StateStore& s) TVD_NO_THREAD_SAFETY_ANALYSIS : s_(s) {
  if (s_.batch_owner_.load() != std::this_thread::get_id()) {
    s_.batch_gate_.lock();
    gated_ = true;
  }
  s_.mutex_.Lock();
}

StateStore::Use::~Use() TVD_NO_THREAD_SAFETY_ANALYSIS {
  s_.mutex_.Unlock();
  if (gated_) s_.batch_gate_.unlock();
}

Status StateStore::BeginTxn() {
  return Exec(in_batch_ ? "SAVEPOINT tvd_write;" : "BEGIN IMMEDIATE;");
}

Status StateStore::CommitTxn() {
  return Exec(in_batch_ ? "RELEASE tvd_write;" : "COMMIT;");
}

void StateStore::RollbackTxn() {
  (void)Exec(in_batch_ ? "ROLLBACK TO tvd_write; RELEASE tvd_write;"
                       : "ROLLBACK;");
}

Status StateStore::BeginBatch() {
  batch_gate_.lock();
  batch_owner_.store(std::this_thread::get_id());
  Use lock(*this);
  Status s = Exec("BEGIN IMMEDIATE;");
  if (s.ok()) {
    in_batch_ = true;
    entry_open_ = false;
    return s;
  }
  batch_owner_.store(std::thread::id());
  batch_gate_.unlock();
  return s;
}

Status StateStore::BeginEntry() {
  Use lock(*this);
  if (entry_open_) TVD_RETURN_IF_ERROR(Exec("RELEASE tvd_entry;"));
  entry_open_ = false;
  TVD_RETURN_IF_ERROR(Exec("SAVEPOINT tvd_entry;"));
  entry_open_ = true;
  return Status::Ok();
}

Status StateStore::DropEntry() {
  Use lock(*this);
  if (!entry_open_) return Status::Ok();
  entry_open_ = false;
  return Exec("ROLLBACK TO tvd_entry; RELEASE tvd_entry;");
}

Status StateStore::EndBatch(bool commit) {
  Status s;
  {
    Use lock(*this);
    if (entry_open_ && commit) s = Exec("RELEASE tvd_entry;");
    entry_open_ = false;
    if (commit && s.ok()) s = Exec("COMMIT;");
    if (!commit || !s.ok()) (void)Exec("ROLLBACK;");
    in_batch_ = false;
  }
  batch_owner_.store(std::thread::id());
  batch_gate_.unlock();
  return s;
}

Status StateStore::Error(const std::string& what) const {
  return IoError("state db " + path_ + ": " + what + ": " +
                 sqlite3_errmsg(db_));
}

Status StateStore::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    return IoError("state db " + path_ + ": " + why);
  }
  return Status::Ok();
}

#define TVD_STORE_WRITE(sql, what, ...)                        \
  do {                                                         \
    Use lock(*this);                                           \
    Stmt st(db_, sql);                                         \
    if (!st.Bind({__VA_ARGS__}) || st.Step() != SQLITE_DONE) { \
      return Error(what);                                      \
    }                                                          \
    return Status::Ok();                                       \
  } while (0)

Status StateStore::PutTvd(const TvdRow& r) {
  Use lock(*this);
  return PutTvdLocked(r);
}

Status StateStore::PutTvdLocked(const TvdRow& r) {
  Stmt st(db_,
          "INSERT OR REPLACE INTO tvds(name, policy_xml, digest, epoch, "
          "token, key_wrapped) VALUES(?,?,?,?,?,?)");
  if (!st.Bind({r.name, r.policy_xml, r.digest_hex,
                static_cast<std::int64_t>(r.epoch), r.token, r.key_wrapped}) ||
      st.Step() != SQLITE_DONE) {
    return Error("storing TVD " + r.name);
  }
  return Status::Ok();
}

Status StateStore::RemoveTvd(const std::string& name) {
  Use lock(*this);
  TVD_RETURN_IF_ERROR(BeginTxn());
  for (const char* sql :
       {"DELETE FROM tvds WHERE name=?", "DELETE FROM memberships WHERE tvd=?",
        "DELETE FROM vms WHERE tvd=?", "DELETE FROM disk_keys WHERE tvd=?",
        "DELETE FROM vtpms WHERE tvd=?",
        "DELETE FROM quota_usage WHERE tvd=?"}) {
    Stmt st(db_, sql);
    if (!st.Bind({name}) || st.Step() != SQLITE_DONE) {
      Status s = Error("removing TVD " + name);
      RollbackTxn();
      return s;
    }
  }
  return CommitTxn();
}

Status StateStore::SetEpoch(const std::string& tvd, std::uint64_t epoch) {
  TVD_STORE_WRITE("UPDATE tvds SET epoch=? WHERE name=?",
                  "storing epoch of " + tvd, static_cast<std::int64_t>(epoch),
                  tvd);
}

StatusOr<std::vector<TvdRow>> StateStore::ListTvds() {
  Use lock(*this);
  Stmt st(db_,
          "SELECT name, policy_xml, digest, epoch, token, key_wrapped FROM "
          "tvds ORDER BY name");
  std::vector<TvdRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    out.push_back({st.Text(0), st.Text(1), st.Text(2),
                   static_cast<std::uint64_t>(st.Int(3)), st.Text(4),
                   st.Blob(5)});
  }
  if (rc != SQLITE_DONE) return Error("listing TVDs");
  return out;
}

Status StateStore::UpsertHost(const std::string& host,
                              const std::string& underlay) {
  TVD_STORE_WRITE(
      "INSERT INTO hosts(name, underlay) VALUES(?,?) "
      "ON CONFLICT(name) DO UPDATE SET underlay=excluded.underlay",
      "storing host " + host, host, underlay);
}

Status StateStore::SetAttestation(const std::string& host, bool ok,
                                  const std::string& reason) {
  TVD_STORE_WRITE(
      "INSERT INTO hosts(name, attested, reason, attested_at) "
      "VALUES(?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
      "attested=excluded.attested, reason=excluded.reason, "
      "attested_at=excluded.attested_at",
      "storing attestation of " + host, host, std::int64_t{ok ? 1 : 0}, reason,
      Now());
}

StatusOr<std::vector<HostRow>> StateStore::ListHosts() {
  Use lock(*this);
  Stmt st(db_,
          "SELECT name, underlay, attested, reason, attested_at FROM hosts "
          "ORDER BY name");
  std::vector<HostRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    out.push_back(
        {st.Text(0), st.Text(1), st.Int(2) != 0, st.Text(3), st.Int(4)});
  }
  if (rc != SQLITE_DONE) return Error("listing hosts");
  return out;
}

Status StateStore::AddAk(const std::string& host,
                         const std::vector<std::uint8_t>& ak) {
  TVD_STORE_WRITE("INSERT OR IGNORE INTO aks(host, ak) VALUES(?,?)",
                  "storing AK of " + host, host, ak);
}

StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
StateStore::ListAks() {
  Use lock(*this);
  Stmt st(db_, "SELECT host, ak FROM aks ORDER BY host");
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW)
    out.emplace_back(st.Text(0), st.Blob(1));
  if (rc != SQLITE_DONE) return Error("listing AKs");
  return out;
}

Status StateStore::PutAkClock(const AkClockRow& row) {
  // SQLite integers are signed 64-bit: a clock beyond that would compare
  // wrongly, so it is refused rather than stored (no real TPM gets there:
  // milliseconds of powered-on time).
  if (row.clock > static_cast<std::uint64_t>(INT64_MAX)) {
    return InvalidArgument("TPM clock " + std::to_string(row.clock) +
                           " is out of range for the state db");
  }
  // The row only ever moves forward (reset count, restart count, clock),
  // so two quotes stored out of order cannot move it back.
  TVD_STORE_WRITE(
      "INSERT INTO ak_clocks(ak_name, reset_count, restart_count, clock, at) "
      "VALUES(?,?,?,?,?) ON CONFLICT(ak_name) DO UPDATE SET "
      "reset_count=excluded.reset_count, "
      "restart_count=excluded.restart_count, clock=excluded.clock, "
      "at=excluded.at "
      "WHERE (excluded.reset_count, excluded.restart_count, excluded.clock) "
      "> (ak_clocks.reset_count, ak_clocks.restart_count, ak_clocks.clock)",
      "storing the TPM clock of an AK", row.ak_name,
      static_cast<std::int64_t>(row.reset_count),
      static_cast<std::int64_t>(row.restart_count),
      static_cast<std::int64_t>(row.clock), Now());
}

StatusOr<std::vector<AkClockRow>> StateStore::ListAkClocks() {
  Use lock(*this);
  Stmt st(db_,
          "SELECT ak_name, reset_count, restart_count, clock FROM ak_clocks "
          "ORDER BY ak_name");
  std::vector<AkClockRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    AkClockRow row;
    row.ak_name = st.Blob(0);
    row.reset_count = static_cast<std::uint32_t>(st.Int(1));
    row.restart_count = static_cast<std::uint32_t>(st.Int(2));
    row.clock = static_cast<std::uint64_t>(st.Int(3));
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return Error("listing AK clocks");
  return out;
}

Status StateStore::AddMember(const std::string& tvd, const std::string& host) {
  TVD_STORE_WRITE(
      "INSERT OR IGNORE INTO memberships(tvd, host, since) VALUES(?,?,?)",
      "storing membership " + tvd + "/" + host, tvd, host, Now());
}

Status StateStore::RemoveMember(const std::string& tvd,
                                const std::string& host) {
  Use lock(*this);
  TVD_RETURN_IF_ERROR(BeginTxn());
  for (const char* sql : kRemoveMemberSql) {
    Stmt st(db_, sql);
    if (!st.Bind({tvd, host}) || st.Step() != SQLITE_DONE) {
      Status s = Error("removing membership " + tvd + "/" + host);
      RollbackTxn();
      return s;
    }
  }
  return CommitTxn();
}

Status CheckTransition(const TvdTransition& t,
                       const std::optional<TvdRow>& stored) {
  if (t.create) {
    if (stored) return FailedPrecondition("TVD " + t.tvd + " exists already");
    return Status::Ok();
  }
  if (!stored) return FailedPrecondition("TVD " + t.tvd + " is gone");
  if (stored->token != t.expect_token) {
    return FailedPrecondition("TVD " + t.tvd + " changed on another master");
  }
  return Status::Ok();
}

bool AlreadyApplied(const TvdTransition& t,
                    const std::optional<TvdRow>& stored) {
  if (t.remove_tvd) return !stored;
  return t.row && stored && stored->token == t.row->token;
}

std::string Describe(const TvdTransition& t) {
  std::string out = "Transition " + t.tvd;
  if (t.create) out += " new";
  if (t.remove_tvd) out += " removed";
  if (t.row) out += " epoch " + std::to_string(t.row->epoch);
  for (const std::string& h : t.add_members) out += " +" + h;
  for (const std::string& h : t.remove_members) out += " -" + h;
  return out;
}

StatusOr<std::optional<TvdRow>> StateStore::LoadTvd(const std::string& name) {
  Use lock(*this);
  return LoadTvdLocked(name);
}

StatusOr<std::optional<TvdRow>> StateStore::LoadTvdLocked(
    const std::string& name) {
  Stmt st(db_,
          "SELECT name, policy_xml, digest, epoch, token, key_wrapped FROM "
          "tvds WHERE name=?");
  if (!st.Bind({name})) return Error("reading TVD " + name);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<TvdRow>();
  if (rc != SQLITE_ROW) return Error("reading TVD " + name);
  return std::optional<TvdRow>(TvdRow{st.Text(0), st.Text(1), st.Text(2),
                                      static_cast<std::uint64_t>(st.Int(3)),
                                      st.Text(4), st.Blob(5)});
}

StatusOr<std::optional<TvdRow>> StateStore::LoadTvdTokenLocked(
    const std::string& name) {
  // Not the whole row: its policy lists every host (hundreds of KB in a TVD
  // of thousands), and every join is a transition.
  Stmt st(db_, "SELECT token FROM tvds WHERE name=?");
  if (!st.Bind({name})) return Error("reading TVD " + name);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<TvdRow>();
  if (rc != SQLITE_ROW) return Error("reading TVD " + name);
  TvdRow row;
  row.name = name;
  row.token = st.Text(0);
  return std::optional<TvdRow>(std::move(row));
}

Status StateStore::Transition(const TvdTransition& t) {
  Use lock(*this);
  TVD_RETURN_IF_ERROR(BeginTxn());
  Status s = TransitionLocked(t);
  if (!s.ok()) {
    RollbackTxn();
    return s;
  }
  return CommitTxn();
}

Status StateStore::TransitionLocked(const TvdTransition& t) {
  TVD_ASSIGN_OR_RETURN(std::optional<TvdRow> stored, LoadTvdTokenLocked(t.tvd));
  Status allowed = CheckTransition(t, stored);
  if (!allowed.ok()) return AlreadyApplied(t, stored) ? Status::Ok() : allowed;
  // True when the statement ran (the caller names what failed; clang's
  // lock analysis does not follow a lambda into Error()).
  auto run = [this](const char* sql, std::initializer_list<Value> values)
                 TVD_NO_THREAD_SAFETY_ANALYSIS {
                   Stmt st(db_, sql);
                   return st.Bind(values) && st.Step() == SQLITE_DONE;
                 };
  if (t.remove_tvd) {
    for (const char* sql :
         {"DELETE FROM tvds WHERE name=?",
          "DELETE FROM memberships WHERE tvd=?", "DELETE FROM vms WHERE tvd=?",
          "DELETE FROM disk_keys WHERE tvd=?", "DELETE FROM vtpms WHERE tvd=?",
          "DELETE FROM quota_usage WHERE tvd=?"}) {
      if (!run(sql, {t.tvd})) return Error("removing TVD " + t.tvd);
    }
    return Status::Ok();
  }
  if (t.row) TVD_RETURN_IF_ERROR(PutTvdLocked(*t.row));
  for (const std::string& host : t.remove_members) {
    for (const char* sql : kRemoveMemberSql) {
      if (!run(sql, {t.tvd, host})) {
        return Error("removing membership " + t.tvd + "/" + host);
      }
    }
  }
  for (const std::string& host : t.add_members) {
    if (!run("INSERT OR IGNORE INTO memberships(tvd, host, since) "
             "VALUES(?,?,?)",
             {t.tvd, host, Now()})) {
      return Error("storing membership " + t.tvd + "/" + host);
    }
  }
  return Status::Ok();
}

namespace {
// SQLite integers are signed: amounts (saturating sums of tenant-written
// sizes) beyond 2^63-1 are stored as that, which is over every limit.
std::int64_t Clamped(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(INT64_MAX)
             ? INT64_MAX
             : static_cast<std::int64_t>(v);
}
}  // namespace

Status StateStore::PutQuotaUsage(const QuotaUsageRow& r) {
  TVD_STORE_WRITE(
      "INSERT OR REPLACE INTO quota_usage(tvd, host, domains, vcpus, "
      "memory_kib, disk_bytes) VALUES(?,?,?,?,?,?)",
      "storing the quota usage of " + r.tvd + "/" + r.host, r.tvd, r.host,
      Clamped(r.amounts.domains), Clamped(r.amounts.vcpus),
      Clamped(r.amounts.memory_kib), Clamped(r.amounts.disk_bytes));
}

StatusOr<std::vector<QuotaUsageRow>> StateStore::ListQuotaUsage() {
  Use lock(*this);
  Stmt st(db_,
          "SELECT tvd, host, domains, vcpus, memory_kib, disk_bytes FROM "
          "quota_usage ORDER BY tvd, host");
  std::vector<QuotaUsageRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    QuotaUsageRow row;
    row.tvd = st.Text(0);
    row.host = st.Text(1);
    row.amounts = {static_cast<std::uint64_t>(st.Int(2)),
                   static_cast<std::uint64_t>(st.Int(3)),
                   static_cast<std::uint64_t>(st.Int(4)),
                   static_cast<std::uint64_t>(st.Int(5))};
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return Error("listing quota usage");
  return out;
}

StatusOr<std::vector<std::string>> StateStore::Members(const std::string& tvd) {
  Use lock(*this);
  Stmt st(db_, "SELECT host FROM memberships WHERE tvd=? ORDER BY host");
  std::vector<std::string> out;
  if (!st.Bind({tvd})) return Error("listing members of " + tvd);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back(st.Text(0));
  if (rc != SQLITE_DONE) return Error("listing members of " + tvd);
  return out;
}

Status StateStore::SetVm(const std::string& tvd, const std::string& host,
                         const std::string& vm, bool attached,
                         const std::string& uuid) {
  if (attached) {
    TVD_STORE_WRITE(
        "INSERT OR REPLACE INTO vms(tvd, host, vm, uuid) VALUES(?,?,?,?)",
        "storing VM " + tvd + "/" + vm, tvd, host, vm, uuid);
  }
  // The VM's vTPM on that host goes with it (the host wiped its state).
  Use lock(*this);
  TVD_RETURN_IF_ERROR(BeginTxn());
  for (const char* sql :
       {"DELETE FROM vms WHERE tvd=? AND host=? AND vm=?",
        "DELETE FROM vtpms WHERE tvd=? AND host=? AND vm=?"}) {
    Stmt st(db_, sql);
    if (!st.Bind({tvd, host, vm}) || st.Step() != SQLITE_DONE) {
      Status s = Error("removing VM " + tvd + "/" + vm);
      RollbackTxn();
      return s;
    }
  }
  return CommitTxn();
}

StatusOr<std::vector<VmRow>> StateStore::Vms(const std::string& tvd) {
  Use lock(*this);
  Stmt st(db_, "SELECT tvd, host, vm, uuid FROM vms WHERE tvd=? ORDER BY vm");
  std::vector<VmRow> out;
  if (!st.Bind({tvd})) return Error("listing VMs of " + tvd);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    out.push_back({st.Text(0), st.Text(1), st.Text(2), st.Text(3)});
  }
  if (rc != SQLITE_DONE) return Error("listing VMs of " + tvd);
  return out;
}

Status StateStore::PutWrappedDiskKey(const std::string& tvd,
                                     const std::string& vm,
                                     const std::vector<std::uint8_t>& wrapped) {
  TVD_STORE_WRITE("INSERT INTO disk_keys(tvd, vm, wrapped) VALUES(?,?,?)",
                  "storing disk key of " + tvd + "/" + vm, tvd, vm, wrapped);
}

StatusOr<std::optional<std::vector<std::uint8_t>>> StateStore::WrappedDiskKey(
    const std::string& tvd, const std::string& vm) {
  return WrappedKey("SELECT wrapped FROM disk_keys WHERE tvd=? AND vm=?",
                    "disk key", tvd, vm);
}

StatusOr<std::optional<std::vector<std::uint8_t>>> StateStore::WrappedKey(
    const char* sql, const std::string& what, const std::string& tvd,
    const std::string& vm) {
  Use lock(*this);
  Stmt st(db_, sql);
  const std::string where = "reading " + what + " of " + tvd + "/" + vm;
  if (!st.Bind({tvd, vm})) return Error(where);
  int rc = st.Step();
  if (rc == SQLITE_ROW) {
    return std::optional<std::vector<std::uint8_t>>(st.Blob(0));
  }
  if (rc != SQLITE_DONE) return Error(where);
  return std::optional<std::vector<std::uint8_t>>();
}

Status StateStore::PutWrappedVtpmKey(const std::string& tvd,
                                     const std::string& vm,
                                     const std::vector<std::uint8_t>& wrapped) {
  TVD_STORE_WRITE("INSERT INTO vtpms(tvd, vm, wrapped) VALUES(?,?,?)",
                  "storing vTPM key of " + tvd + "/" + vm, tvd, vm, wrapped);
}

StatusOr<std::optional<std::vector<std::uint8_t>>> StateStore::WrappedVtpmKey(
    const std::string& tvd, const std::string& vm) {
  return WrappedKey("SELECT wrapped FROM vtpms WHERE tvd=? AND vm=?",
                    "vTPM key", tvd, vm);
}

Status StateStore::RecordVtpmBinding(const VtpmBindingRow& r) {
  Use lock(*this);
  Stmt st(db_,
          "UPDATE vtpms SET host=?, ek=?, ak=?, created_at=? WHERE tvd=? AND "
          "vm=?");
  if (!st.Bind({r.host, r.ek_public, r.ak_public, r.created_at, r.tvd, r.vm}) ||
      st.Step() != SQLITE_DONE) {
    return Error("recording vTPM of " + r.tvd + "/" + r.vm);
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("no vTPM key of " + r.tvd + "/" + r.vm);
  }
  return Status::Ok();
}

namespace {
constexpr char kSelectVtpms[] =
    "SELECT tvd, vm, host, ek, ak, created_at FROM vtpms WHERE host != '' "
    "AND tvd=? ORDER BY vm";
constexpr char kSelectVtpm[] =
    "SELECT tvd, vm, host, ek, ak, created_at FROM vtpms WHERE host != '' "
    "AND tvd=? AND vm=?";
}  // namespace

StatusOr<std::vector<VtpmBindingRow>> StateStore::VtpmRowsLocked(
    const char* sql, const std::string& tvd, const std::string& vm) {
  Stmt st(db_, sql);
  bool bound = vm.empty() ? st.Bind({tvd}) : st.Bind({tvd, vm});
  if (!bound) return Error("reading vTPMs of " + tvd);
  std::vector<VtpmBindingRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    out.push_back({st.Text(0), st.Text(1), st.Text(2), st.Blob(3), st.Blob(4),
                   st.Int(5)});
  }
  if (rc != SQLITE_DONE) return Error("reading vTPMs of " + tvd);
  return out;
}

StatusOr<std::optional<VtpmBindingRow>> StateStore::GetVtpmBinding(
    const std::string& tvd, const std::string& vm) {
  Use lock(*this);
  TVD_ASSIGN_OR_RETURN(auto rows, VtpmRowsLocked(kSelectVtpm, tvd, vm));
  if (rows.empty()) return std::optional<VtpmBindingRow>();
  return std::optional<VtpmBindingRow>(std::move(rows.front()));
}

StatusOr<std::vector<VtpmBindingRow>> StateStore::ListVtpmBindings(
    const std::string& tvd) {
  Use lock(*this);
  return VtpmRowsLocked(kSelectVtpms, tvd, "");
}

Status StateStore::Audit(const std::string& actor, const std::string& action,
                         const std::string& subject, bool allowed,
                         const std::string& reason) {
  TVD_STORE_WRITE(
      "INSERT INTO audit(at, actor, action, subject, allowed, reason) "
      "VALUES(?,?,?,?,?,?)",
      "writing audit row", Now(), actor, action, subject,
      std::int64_t{allowed ? 1 : 0}, reason);
}

StatusOr<std::vector<AuditRow>> StateStore::RecentAudit(int limit) {
  Use lock(*this);
  Stmt st(db_,
          "SELECT id, at, actor, action, subject, allowed, reason FROM audit "
          "ORDER BY id DESC LIMIT ?");
  if (!st.Bind({std::int64_t{limit}})) return Error("reading audit");
  std::vector<AuditRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    out.push_back({st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4),
                   st.Int(5) != 0, st.Text(6)});
  }
  if (rc != SQLITE_DONE) return Error("reading audit");
  return out;
}

}  // namespace tvd::master
