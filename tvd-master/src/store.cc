#include "tvd/master/store.h"

namespace tvd::master {
namespace {

// The SQLite store's batch: one SQLite transaction, each entry a
// savepoint in it (StateStore::BeginBatch). The entries' writes go to the
// store itself, which runs them inside the transaction.
class SqliteStoreBatch final : public StoreBatch {
 public:
  SqliteStoreBatch(StateStore& state, Store& store)
      : state_(state), store_(store) {}
  ~SqliteStoreBatch() override {
    if (!ended_) (void)state_.EndBatch(false);
  }

  void BeginEntry() override {
    entry_ok_ = state_.BeginEntry().ok() && entry_ok_;
    ++entries_;
  }
  void DropEntry() override {
    (void)state_.DropEntry();
    --entries_;
  }
  Store& store() override { return store_; }
  std::size_t entries() const override { return entries_; }
  Status Commit() override {
    ended_ = true;
    // A savepoint that could not be opened leaves its entry's writes
    // without a way back: the whole batch is rolled back then.
    if (!entry_ok_) {
      (void)state_.EndBatch(false);
      return IoError("a savepoint of the batch could not be opened");
    }
    return state_.EndBatch(true);
  }

 private:
  StateStore& state_;
  Store& store_;
  std::size_t entries_ = 0;
  bool entry_ok_ = true;
  bool ended_ = false;
};

// Forwards to StateStore; kept apart from it so the SQLite class stays a
// plain concrete type.
class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<StateStore> s) : s_(std::move(s)) {}

  Status PutTvd(const TvdRow& row) override { return s_->PutTvd(row); }
  Status RemoveTvd(const std::string& name) override {
    return s_->RemoveTvd(name);
  }
  Status SetEpoch(const std::string& tvd, std::uint64_t epoch) override {
    return s_->SetEpoch(tvd, epoch);
  }
  StatusOr<std::vector<TvdRow>> ListTvds() override { return s_->ListTvds(); }
  Status Transition(const TvdTransition& t) override {
    return s_->Transition(t);
  }
  StatusOr<std::optional<TvdRow>> LoadTvd(const std::string& name) override {
    return s_->LoadTvd(name);
  }
  Status UpsertHost(const std::string& host,
                    const std::string& underlay) override {
    return s_->UpsertHost(host, underlay);
  }
  Status SetAttestation(const std::string& host, bool ok,
                        const std::string& reason) override {
    return s_->SetAttestation(host, ok, reason);
  }
  StatusOr<std::vector<HostRow>> ListHosts() override {
    return s_->ListHosts();
  }
  Status AddAk(const std::string& host,
               const std::vector<std::uint8_t>& ak) override {
    return s_->AddAk(host, ak);
  }
  StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
  ListAks() override {
    return s_->ListAks();
  }
  Status PutAkClock(const AkClockRow& row) override {
    return s_->PutAkClock(row);
  }
  StatusOr<std::vector<AkClockRow>> ListAkClocks() override {
    return s_->ListAkClocks();
  }
  Status AddMember(const std::string& tvd, const std::string& host) override {
    return s_->AddMember(tvd, host);
  }
  Status RemoveMember(const std::string& tvd,
                      const std::string& host) override {
    return s_->RemoveMember(tvd, host);
  }
  StatusOr<std::vector<std::string>> Members(const std::string& tvd) override {
    return s_->Members(tvd);
  }
  Status SetVm(const std::string& tvd, const std::string& host,
               const std::string& vm, bool attached,
               const std::string& uuid) override {
    return s_->SetVm(tvd, host, vm, attached, uuid);
  }
  StatusOr<std::vector<VmRow>> Vms(const std::string& tvd) override {
    return s_->Vms(tvd);
  }
  Status PutWrappedDiskKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped) override {
    return s_->PutWrappedDiskKey(tvd, vm, wrapped);
  }
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedDiskKey(
      const std::string& tvd, const std::string& vm) override {
    return s_->WrappedDiskKey(tvd, vm);
  }
  Status PutWrappedVtpmKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped) override {
    return s_->PutWrappedVtpmKey(tvd, vm, wrapped);
  }
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedVtpmKey(
      const std::string& tvd, const std::string& vm) override {
    return s_->WrappedVtpmKey(tvd, vm);
  }
  Status RecordVtpmBinding(const VtpmBindingRow& row) override {
    return s_->RecordVtpmBinding(row);
  }
  StatusOr<std::optional<VtpmBindingRow>> GetVtpmBinding(
      const std::string& tvd, const std::string& vm) override {
    return s_->GetVtpmBinding(tvd, vm);
  }
  StatusOr<std::vector<VtpmBindingRow>> ListVtpmBindings(
      const std::string& tvd) override {
    return s_->ListVtpmBindings(tvd);
  }
  Status PutQuotaUsage(const QuotaUsageRow& row) override {
    return s_->PutQuotaUsage(row);
  }
  StatusOr<std::vector<QuotaUsageRow>> ListQuotaUsage() override {
    return s_->ListQuotaUsage();
  }
  Status Audit(const std::string& actor, const std::string& action,
               const std::string& subject, bool allowed,
               const std::string& reason) override {
    return s_->Audit(actor, action, subject, allowed, reason);
  }
  StatusOr<std::vector<AuditRow>> RecentAudit(int limit) override {
    return s_->RecentAudit(limit);
  }
  std::unique_ptr<StoreBatch> BeginBatch() override {
    if (!s_->BeginBatch().ok()) return nullptr;
    return std::make_unique<SqliteStoreBatch>(*s_, *this);
  }

 private:
  std::unique_ptr<StateStore> s_;
};

}  // namespace

StatusOr<StorePtr> OpenSqliteStore(const std::string& path) {
  TVD_ASSIGN_OR_RETURN(auto s, StateStore::Open(path));
  return StorePtr(new SqliteStore(std::move(s)));
}

}  // namespace tvd::master
