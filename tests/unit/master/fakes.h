// Fakes for the master's seams (store.h, clock.h, listener.h): in memory,
// recording every write, and able to fail a named method on demand.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tvd/clock.h"
#include "tvd/master/listener.h"
#include "tvd/master/store.h"
#include "tvd/testing/fake_clock.h"

namespace tvd::master::testing {

class FakeStore final : public Store {
 public:
  // The next call of `method` ("SetEpoch", "Audit", ...) returns `status`.
  void FailNext(const std::string& method, Status status) {
    std::lock_guard lock(mu_);
    fail_[method] = std::move(status);
  }
  // While closed, writes block (to show who waits on an fsync).
  void CloseGate() {
    std::lock_guard lock(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard lock(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  // Writes waiting for the gate to open now.
  int waiting_at_gate() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  // "SetEpoch blue 2", "AddMember blue node1", "Audit join blue/node1", ...
  std::vector<std::string> writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }
  // Transitions sent with TvdTransition::fenced (tried, whatever came of
  // them).
  int fenced_transitions() const {
    std::lock_guard lock(mu_);
    return fenced_;
  }
  std::vector<AuditRow> audit() const {
    std::lock_guard lock(mu_);
    return audit_;
  }

  // Batches (store_batch.h) are off until EnableBatches(). A batch's writes
  // apply at once and are undone by DropEntry or a commit that fails.
  void EnableBatches() {
    std::lock_guard lock(mu_);
    batches_enabled_ = true;
  }
  // Inside a batch, `method` answers "<method> is not batched".
  void RefuseInBatch(const std::string& method) {
    std::lock_guard lock(mu_);
    refused_in_batch_.insert(method);
  }
  // `entry`: the kept entry the batch names as the one whose precondition
  // failed (StoreBatch::failed_entry); `after`: commits that succeed first.
  void FailNextCommit(Status status,
                      std::optional<std::size_t> entry = std::nullopt,
                      int after = 0) {
    std::lock_guard lock(mu_);
    fail_commit_ = std::move(status);
    fail_commit_entry_ = entry;
    fail_commit_after_ = after;
  }
  // Entries per committed batch, in order.
  std::vector<std::size_t> commits() const {
    std::lock_guard lock(mu_);
    return commits_;
  }
  std::unique_ptr<StoreBatch> BeginBatch() override {
    {
      std::lock_guard lock(mu_);
      if (!batches_enabled_) return nullptr;
    }
    return std::make_unique<Batch>(*this);
  }

  Status PutTvd(const TvdRow& row) override {
    return Write("PutTvd", row.name + " " + std::to_string(row.epoch),
                 [&] { tvds_[row.name] = row; });
  }
  Status RemoveTvd(const std::string& name) override {
    return Write("RemoveTvd", name, [&] {
      tvds_.erase(name);
      members_.erase(name);
      std::erase_if(usage_,
                    [&](const auto& u) { return u.first.first == name; });
    });
  }
  Status SetEpoch(const std::string& tvd, std::uint64_t epoch) override {
    return Write("SetEpoch", tvd + " " + std::to_string(epoch),
                 [&] { tvds_[tvd].epoch = epoch; });
  }
  Status Transition(const TvdTransition& t) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return gate_open_; });
    if (t.fenced) ++fenced_;
    TVD_RETURN_IF_ERROR(Refused("Transition"));
    TVD_RETURN_IF_ERROR(Failure("Transition"));
    auto it = tvds_.find(t.tvd);
    auto stored =
        it == tvds_.end() ? std::nullopt : std::optional<TvdRow>(it->second);
    Status allowed = CheckTransition(t, stored);
    if (!allowed.ok())
      return AlreadyApplied(t, stored) ? Status::Ok() : allowed;
    if (t.remove_tvd) {
      tvds_.erase(t.tvd);
      members_.erase(t.tvd);
      std::erase_if(usage_,
                    [&](const auto& u) { return u.first.first == t.tvd; });
    } else {
      if (t.row) tvds_[t.tvd] = *t.row;
      for (const std::string& h : t.remove_members) {
        members_[t.tvd].erase(h);
        usage_.erase({t.tvd, h});
      }
      for (const std::string& h : t.add_members) members_[t.tvd].insert(h);
    }
    writes_.push_back(Describe(t));
    last_transition_ = t;
    return Status::Ok();
  }
  // The last transition applied.
  std::optional<TvdTransition> last_transition() const {
    std::lock_guard lock(mu_);
    return last_transition_;
  }
  StatusOr<std::optional<TvdRow>> LoadTvd(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = tvds_.find(name);
    if (it == tvds_.end()) return std::optional<TvdRow>();
    return std::optional<TvdRow>(it->second);
  }
  StatusOr<std::vector<TvdRow>> ListTvds() override {
    std::lock_guard lock(mu_);
    TVD_RETURN_IF_ERROR(Failure("ListTvds"));
    std::vector<TvdRow> out;
    for (const auto& [n, r] : tvds_) out.push_back(r);
    return out;
  }
  Status UpsertHost(const std::string& host,
                    const std::string& underlay) override {
    return Write("UpsertHost", host + " " + underlay,
                 [&] { hosts_[host].underlay = underlay; });
  }
  Status SetAttestation(const std::string& host, bool ok,
                        const std::string& reason) override {
    return Write("SetAttestation", host + (ok ? " ok" : " failed"), [&] {
      hosts_[host].attested = ok;
      hosts_[host].attestation_reason = reason;
    });
  }
  StatusOr<std::vector<HostRow>> ListHosts() override {
    std::lock_guard lock(mu_);
    TVD_RETURN_IF_ERROR(Failure("ListHosts"));
    std::vector<HostRow> out;
    for (auto [n, h] : hosts_) {
      h.name = n;
      out.push_back(h);
    }
    return out;
  }
  Status AddAk(const std::string& host,
               const std::vector<std::uint8_t>& ak) override {
    return Write("AddAk", host, [&] { aks_[host] = ak; });
  }
  StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
  ListAks() override {
    std::lock_guard lock(mu_);
    return std::vector<std::pair<std::string, std::vector<std::uint8_t>>>(
        aks_.begin(), aks_.end());
  }
  Status PutAkClock(const AkClockRow&) override { return Status::Ok(); }
  StatusOr<std::vector<AkClockRow>> ListAkClocks() override {
    return std::vector<AkClockRow>{};
  }
  Status AddMember(const std::string& tvd, const std::string& host) override {
    return Write("AddMember", tvd + " " + host,
                 [&] { members_[tvd].insert(host); });
  }
  Status RemoveMember(const std::string& tvd,
                      const std::string& host) override {
    return Write("RemoveMember", tvd + " " + host, [&] {
      members_[tvd].erase(host);
      usage_.erase({tvd, host});
    });
  }
  StatusOr<std::vector<std::string>> Members(const std::string& tvd) override {
    std::lock_guard lock(mu_);
    TVD_RETURN_IF_ERROR(Failure("Members"));
    auto it = members_.find(tvd);
    if (it == members_.end()) return std::vector<std::string>{};
    return std::vector<std::string>(it->second.begin(), it->second.end());
  }
  Status SetVm(const std::string& tvd, const std::string& host,
               const std::string& vm, bool attached,
               const std::string&) override {
    return Write(
        "SetVm",
        tvd + " " + host + " " + vm + (attached ? " attached" : " detached"),
        [] {});
  }
  StatusOr<std::vector<VmRow>> Vms(const std::string&) override {
    return std::vector<VmRow>{};
  }
  Status PutWrappedDiskKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped) override {
    return Write("PutWrappedDiskKey", tvd + " " + vm,
                 [&] { disk_keys_[tvd + "/" + vm] = wrapped; });
  }
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedDiskKey(
      const std::string& tvd, const std::string& vm) override {
    std::lock_guard lock(mu_);
    auto it = disk_keys_.find(tvd + "/" + vm);
    if (it == disk_keys_.end()) {
      return std::optional<std::vector<std::uint8_t>>();
    }
    return std::optional<std::vector<std::uint8_t>>(it->second);
  }
  Status PutWrappedVtpmKey(const std::string& tvd, const std::string& vm,
                           const std::vector<std::uint8_t>& wrapped) override {
    return Write("PutWrappedVtpmKey", tvd + " " + vm, [&] {
      vtpms_[tvd + "/" + vm] = {wrapped, VtpmBindingRow{}};
    });
  }
  StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedVtpmKey(
      const std::string& tvd, const std::string& vm) override {
    std::lock_guard lock(mu_);
    auto it = vtpms_.find(tvd + "/" + vm);
    if (it == vtpms_.end()) return std::optional<std::vector<std::uint8_t>>();
    return std::optional<std::vector<std::uint8_t>>(it->second.first);
  }
  Status RecordVtpmBinding(const VtpmBindingRow& row) override {
    {
      std::lock_guard lock(mu_);
      if (!vtpms_.count(row.tvd + "/" + row.vm)) {
        return NotFound("no vTPM key of " + row.tvd + "/" + row.vm);
      }
    }
    return Write("RecordVtpmBinding", row.tvd + " " + row.vm,
                 [&] { vtpms_[row.tvd + "/" + row.vm].second = row; });
  }
  StatusOr<std::optional<VtpmBindingRow>> GetVtpmBinding(
      const std::string& tvd, const std::string& vm) override {
    std::lock_guard lock(mu_);
    auto it = vtpms_.find(tvd + "/" + vm);
    if (it == vtpms_.end() || it->second.second.host.empty()) {
      return std::optional<VtpmBindingRow>();
    }
    return std::optional<VtpmBindingRow>(it->second.second);
  }
  StatusOr<std::vector<VtpmBindingRow>> ListVtpmBindings(
      const std::string& tvd) override {
    std::lock_guard lock(mu_);
    std::vector<VtpmBindingRow> out;
    for (const auto& [k, v] : vtpms_) {
      if (v.second.tvd == tvd && !v.second.host.empty()) {
        out.push_back(v.second);
      }
    }
    return out;
  }
  Status PutQuotaUsage(const QuotaUsageRow& row) override {
    return Write("PutQuotaUsage", row.tvd + " " + row.host, [&] {
      usage_[{row.tvd, row.host}] = row;
    });
  }
  StatusOr<std::vector<QuotaUsageRow>> ListQuotaUsage() override {
    std::lock_guard lock(mu_);
    TVD_RETURN_IF_ERROR(Failure("ListQuotaUsage"));
    std::vector<QuotaUsageRow> out;
    for (const auto& [k, r] : usage_) out.push_back(r);
    return out;
  }
  Status Audit(const std::string& actor, const std::string& action,
               const std::string& subject, bool allowed,
               const std::string& reason) override {
    return Write("Audit", action + " " + subject, [&] {
      audit_.push_back({static_cast<std::int64_t>(audit_.size() + 1), 0, actor,
                        action, subject, allowed, reason});
    });
  }
  StatusOr<std::vector<AuditRow>> RecentAudit(int limit) override {
    std::lock_guard lock(mu_);
    std::vector<AuditRow> out(audit_.rbegin(), audit_.rend());
    if (static_cast<int>(out.size()) > limit) out.resize(limit);
    return out;
  }

 private:
  struct Snapshot {
    std::vector<std::string> writes;
    std::map<std::string, TvdRow> tvds;
    std::map<std::string, std::set<std::string>> members;
    std::map<std::string, HostRow> hosts;
    std::map<std::string, std::vector<std::uint8_t>> aks;
    std::map<std::string, std::vector<std::uint8_t>> disk_keys;
    std::map<std::string, std::pair<std::vector<std::uint8_t>, VtpmBindingRow>>
        vtpms;
    std::vector<AuditRow> audit;
    std::map<std::pair<std::string, std::string>, QuotaUsageRow> usage;
  };
  Snapshot Take() const {
    std::lock_guard lock(mu_);
    return {writes_,    tvds_,  members_, hosts_, aks_,
            disk_keys_, vtpms_, audit_,   usage_};
  }
  void Put(const Snapshot& s) {
    std::lock_guard lock(mu_);
    writes_ = s.writes;
    tvds_ = s.tvds;
    members_ = s.members;
    hosts_ = s.hosts;
    aks_ = s.aks;
    disk_keys_ = s.disk_keys;
    vtpms_ = s.vtpms;
    audit_ = s.audit;
    usage_ = s.usage;
  }

  class Batch final : public StoreBatch {
   public:
    explicit Batch(FakeStore& store)
        : store_(store), before_(store.Take()), entry_(before_) {
      std::lock_guard lock(store_.mu_);
      store_.in_batch_ = true;
    }
    ~Batch() override {
      if (!committed_) store_.Put(before_);
      std::lock_guard lock(store_.mu_);
      store_.in_batch_ = false;
    }
    void BeginEntry() override {
      entry_ = store_.Take();
      ++entries_;
    }
    void DropEntry() override {
      store_.Put(entry_);
      --entries_;
    }
    Store& store() override { return store_; }
    std::size_t entries() const override { return entries_; }
    std::optional<std::size_t> failed_entry() const override {
      return failed_entry_;
    }
    Status Commit() override {
      std::optional<Status> fail;
      {
        std::lock_guard lock(store_.mu_);
        if (store_.fail_commit_after_ > 0) {
          --store_.fail_commit_after_;
        } else {
          fail.swap(store_.fail_commit_);
          failed_entry_ = store_.fail_commit_entry_;
        }
      }
      if (fail) return *fail;
      failed_entry_.reset();
      committed_ = true;
      std::lock_guard lock(store_.mu_);
      store_.commits_.push_back(entries_);
      return Status::Ok();
    }

   private:
    FakeStore& store_;
    Snapshot before_;
    Snapshot entry_;
    std::size_t entries_ = 0;
    bool committed_ = false;
    std::optional<std::size_t> failed_entry_;
  };

  // With mu_.
  Status Refused(const std::string& method) {
    if (in_batch_ && refused_in_batch_.count(method)) {
      return FailedPrecondition(method + " is not batched");
    }
    return Status::Ok();
  }
  Status Failure(const std::string& method) {
    auto it = fail_.find(method);
    if (it == fail_.end()) return Status::Ok();
    Status s = it->second;
    fail_.erase(it);
    return s;
  }
  template <typename F>
  Status Write(const std::string& method, const std::string& args, F apply) {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return gate_open_; });
    --waiting_;
    TVD_RETURN_IF_ERROR(Refused(method));
    TVD_RETURN_IF_ERROR(Failure(method));
    apply();
    writes_.push_back(method + " " + args);
    return Status::Ok();
  }

  mutable std::mutex mu_;
  int fenced_ = 0;
  std::condition_variable cv_;
  bool gate_open_ = true;
  int waiting_ = 0;
  std::map<std::string, Status> fail_;
  std::vector<std::string> writes_;
  std::map<std::string, TvdRow> tvds_;
  std::map<std::string, std::set<std::string>> members_;
  std::optional<TvdTransition> last_transition_;
  std::map<std::string, HostRow> hosts_;
  std::map<std::string, std::vector<std::uint8_t>> aks_;
  std::map<std::string, std::vector<std::uint8_t>> disk_keys_;
  // By "tvd/vm": the wrapped key and the binding (host empty: none yet).
  std::map<std::string, std::pair<std::vector<std::uint8_t>, VtpmBindingRow>>
      vtpms_;
  std::vector<AuditRow> audit_;
  std::map<std::pair<std::string, std::string>, QuotaUsageRow> usage_;
  bool batches_enabled_ = false;
  bool in_batch_ = false;
  std::set<std::string> refused_in_batch_;
  std::optional<Status> fail_commit_;
  std::optional<std::size_t> fail_commit_entry_;
  int fail_commit_after_ = 0;
  std::vector<std::size_t> commits_;

 public:
  // Seeds state as an earlier run left it (not recorded as writes).
  void Seed(const TvdRow& row, const std::set<std::string>& members) {
    std::lock_guard lock(mu_);
    tvds_[row.name] = row;
    members_[row.name] = members;
  }
};

// The shared fake clock (tvd/testing/fake_clock.h).
using tvd::testing::FakeClock;

// Accepts nothing; counts Stop calls.
class FakeListener final : public Listener {
 public:
  explicit FakeListener(int* stops) : stops_(stops) {}
  std::uint16_t port() const override { return 4242; }
  void Stop() override { ++*stops_; }

 private:
  int* stops_;
};

inline ListenerFactory FakeListenerFactory(int* stops, int* starts) {
  return [stops, starts](channel::ConnectionHandler) -> StatusOr<ListenerPtr> {
    ++*starts;
    return ListenerPtr(new FakeListener(stops));
  };
}

}  // namespace tvd::master::testing
