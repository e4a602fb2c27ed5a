// OvsdbStore's batch (store_batch.h): the operations of many journal
// entries' writes (ovsdb_store_ops.h) sent as one transaction, so they cost
// one Raft commit. Nothing is sent before Commit().
//
// What joins: PutTvd, RemoveTvd, SetEpoch, Transition (not a fenced one:
// that goes through the duty lock's connection), UpsertHost,
// SetAttestation, AddAk, AddMember, RemoveMember, SetVm, PutQuotaUsage,
// Audit, and PutAkClock: under a `wait` that the row holds what this store
// last saw stored (or that there is none), so a clock another replica
// moved in between fails that entry's precondition and it goes alone,
// reading the row. Every other method, reads included, answers
// FailedPrecondition "... is not batched" and joins nothing: the journal
// then applies that entry alone, with the store's own rules
// (PutWrapped*Key's never-overwrite check, RecordVtpmBinding's "no vTPM
// key" answer).
//
// Commit: one transaction of every kept operation, the audit rows last
// (with ids the store reserved). A wait that fails (a transition another
// master beat) or any other error fails the whole transaction and writes
// nothing. A failed wait names its entry (failed_entry): the journal
// commits the entries before it again and applies it alone; after any
// other failure it applies them all alone. Each gets the answer it would
// have had alone. When the link sent the transaction twice (its
// first answer lost) and the second failed, the first audit row's token
// tells a batch that went through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tvd/master/ovsdb_store.h"
#include "tvd/master/store_batch.h"

namespace tvd::master {

class OvsdbStoreBatch final : public StoreBatch, private Store {
 public:
  explicit OvsdbStoreBatch(OvsdbStore& store) : store_(store) {}

  void BeginEntry() override;
  void DropEntry() override;
  Store& store() override { return *this; }
  std::size_t entries() const override { return entries_; }
  Status Commit() override;
  std::optional<std::size_t> failed_entry() const override {
    return failed_entry_;
  }

 private:
  using Json = nlohmann::json;
  struct PendingAudit {
    std::string token;
    std::int64_t at = 0;
    std::string actor, action, subject;
    bool allowed = false;
    std::string reason;
  };

  Status Add(Json ops);
  static Status NotBatched(const char* what);

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

  OvsdbStore& store_;
  Json ops_ = Json::array();
  std::vector<PendingAudit> audits_;
  std::size_t entries_ = 0;
  // Where each kept entry's operations begin in ops_ (the last: the
  // current entry's), and where the current entry's audit rows begin.
  std::vector<std::size_t> entry_first_op_;
  std::size_t entry_audits_ = 0;
  // AK clocks this batch writes, by AK name (hex): what a later write of
  // the same AK in this batch finds stored.
  std::map<std::string, AkClockRow> clocks_;
  std::map<std::string, AkClockRow> entry_clocks_;
  std::optional<std::size_t> failed_entry_;
};

}  // namespace tvd::master
