// The seam between the master's decisions and its durable state. The master
// reads and writes through Store only, so its logic runs against the SQLite
// StateStore in the daemon and against an in-memory fake in unit tests.
//
// The contract of every method is that of the StateStore method of the same
// name (state_store.h): a write that returned OK is durable; failures are
// values (IoError from SQLite, InvalidArgument for out-of-range input).
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tvd/master/state_store.h"
#include "tvd/master/store_batch.h"
#include "tvd/status.h"

namespace tvd::master {

class Store {
 public:
  virtual ~Store() = default;

  virtual Status PutTvd(const TvdRow& row) = 0;
  virtual Status RemoveTvd(const std::string& name) = 0;
  virtual Status SetEpoch(const std::string& tvd, std::uint64_t epoch) = 0;
  virtual StatusOr<std::vector<TvdRow>> ListTvds() = 0;
  // One decision on one TVD under its precondition (TvdTransition).
  // FailedPrecondition only for a precondition that does not hold
  // (CheckTransition); a transition sent again after its answer was lost
  // is recognised by its new token and is OK.
  virtual Status Transition(const TvdTransition& t) = 0;
  virtual StatusOr<std::optional<TvdRow>> LoadTvd(const std::string& name) = 0;

  virtual Status UpsertHost(const std::string& host,
                            const std::string& underlay) = 0;
  virtual Status SetAttestation(const std::string& host, bool ok,
                                const std::string& reason) = 0;
  virtual StatusOr<std::vector<HostRow>> ListHosts() = 0;

  virtual Status AddAk(const std::string& host,
                       const std::vector<std::uint8_t>& ak) = 0;
  virtual StatusOr<
      std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
  ListAks() = 0;
  virtual Status PutAkClock(const AkClockRow& row) = 0;
  virtual StatusOr<std::vector<AkClockRow>> ListAkClocks() = 0;

  virtual Status AddMember(const std::string& tvd, const std::string& host) = 0;
  virtual Status RemoveMember(const std::string& tvd,
                              const std::string& host) = 0;
  virtual StatusOr<std::vector<std::string>> Members(
      const std::string& tvd) = 0;

  virtual Status SetVm(const std::string& tvd, const std::string& host,
                       const std::string& vm, bool attached,
                       const std::string& uuid) = 0;
  virtual StatusOr<std::vector<VmRow>> Vms(const std::string& tvd) = 0;

  virtual Status PutWrappedDiskKey(
      const std::string& tvd, const std::string& vm,
      const std::vector<std::uint8_t>& wrapped) = 0;
  virtual StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedDiskKey(
      const std::string& tvd, const std::string& vm) = 0;

  virtual Status PutWrappedVtpmKey(
      const std::string& tvd, const std::string& vm,
      const std::vector<std::uint8_t>& wrapped) = 0;
  virtual StatusOr<std::optional<std::vector<std::uint8_t>>> WrappedVtpmKey(
      const std::string& tvd, const std::string& vm) = 0;
  virtual Status RecordVtpmBinding(const VtpmBindingRow& row) = 0;
  // The vTPM bindings (VM, TVD, host, EK, AK, creation time) the master
  // recorded; read by whatever vouches for a vTPM (docs/master.md).
  virtual StatusOr<std::optional<VtpmBindingRow>> GetVtpmBinding(
      const std::string& tvd, const std::string& vm) = 0;
  virtual StatusOr<std::vector<VtpmBindingRow>> ListVtpmBindings(
      const std::string& tvd) = 0;

  virtual Status PutQuotaUsage(const QuotaUsageRow& row) = 0;
  virtual StatusOr<std::vector<QuotaUsageRow>> ListQuotaUsage() = 0;

  virtual Status Audit(const std::string& actor, const std::string& action,
                       const std::string& subject, bool allowed,
                       const std::string& reason) = 0;
  virtual StatusOr<std::vector<AuditRow>> RecentAudit(int limit) = 0;

  // A batch of writes made durable at once (store_batch.h); null where the
  // store has none, and the journal then applies each entry alone.
  virtual std::unique_ptr<StoreBatch> BeginBatch() { return nullptr; }
};
using StorePtr = std::unique_ptr<Store>;

// The daemon's Store: the SQLite StateStore at `path` (StateStore::Open's
// errors).
StatusOr<StorePtr> OpenSqliteStore(const std::string& path);

}  // namespace tvd::master
