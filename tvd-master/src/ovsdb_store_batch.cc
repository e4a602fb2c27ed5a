#include "ovsdb_store_batch.h"

#include <algorithm>
#include <ctime>

#include "ovsdb_store_ops.h"
#include "tvd/master/ovsdb_store_rows.h"

namespace tvd::master {
namespace {

namespace ops = ovsdb_ops;

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

void OvsdbStoreBatch::BeginEntry() {
  entry_first_op_.push_back(ops_.size());
  entry_audits_ = audits_.size();
  entry_clocks_ = clocks_;
  ++entries_;
}

void OvsdbStoreBatch::DropEntry() {
  if (entry_first_op_.empty()) return;
  const std::size_t first = entry_first_op_.back();
  entry_first_op_.pop_back();
  ops_.erase(ops_.begin() + static_cast<std::ptrdiff_t>(first), ops_.end());
  audits_.resize(entry_audits_);
  clocks_ = entry_clocks_;
  --entries_;
}

Status OvsdbStoreBatch::Add(Json ops) {
  for (Json& op : ops) ops_.push_back(std::move(op));
  return Status::Ok();
}

Status OvsdbStoreBatch::NotBatched(const char* what) {
  return FailedPrecondition(std::string(what) + " is not batched");
}

Status OvsdbStoreBatch::Commit() {
  if (entries_ == 0) return Status::Ok();
  MutexLock lock(store_.mutex_);
  // Names and text must be valid UTF-8 as alone; audit rows are exempt
  // (their invalid bytes become U+FFFD, as alone), so they are checked
  // out and added after.
  TVD_RETURN_IF_ERROR(store_.CheckUtf8(ops_));
  Json all = ops_;
  if (!audits_.empty()) {
    TVD_ASSIGN_OR_RETURN(
        std::int64_t id,
        store_.ReserveAuditIds(static_cast<std::int64_t>(audits_.size())));
    for (const PendingAudit& a : audits_) {
      all.push_back(ops::InsertAudit(id++, a.token, a.at, a.actor, a.action,
                                     a.subject, a.allowed, a.reason));
    }
  }
  const std::string what =
      "committing a batch of " + std::to_string(entries_) + " journal entries";
  TVD_ASSIGN_OR_RETURN(TxnOutcome out, store_.Addressed(all));
  if (out.ok) {
    for (const auto& [name, row] : clocks_) store_.ak_clocks_[name] = row;
    return Status::Ok();
  }
  if (!audits_.empty()) {
    // Sent twice, the first went through: its rows are there.
    TVD_ASSIGN_OR_RETURN(
        auto mine, store_.Select(what, "Audit",
                                 ops::And({{"token", audits_.front().token}})));
    if (!mine.empty()) {
      for (const auto& [name, row] : clocks_) store_.ak_clocks_[name] = row;
      return Status::Ok();
    }
  }
  if (out.failed_op && out.error == "timed out" &&
      *out.failed_op < ops_.size()) {
    // A wait failed: the entry whose operations hold it.
    auto after = std::upper_bound(entry_first_op_.begin(),
                                  entry_first_op_.end(), *out.failed_op);
    failed_entry_ =
        static_cast<std::size_t>(after - entry_first_op_.begin()) - 1;
  }
  return store_.Failed(what, out);
}

Status OvsdbStoreBatch::PutTvd(const TvdRow& row) {
  TVD_RETURN_IF_ERROR(ops::CheckEpoch(row.epoch));
  return Add(ops::PutTvd(row));
}

Status OvsdbStoreBatch::RemoveTvd(const std::string& name) {
  return Add(ops::RemoveTvd(name));
}

Status OvsdbStoreBatch::SetEpoch(const std::string& tvd, std::uint64_t epoch) {
  TVD_RETURN_IF_ERROR(ops::CheckEpoch(epoch));
  return Add(ops::SetEpoch(tvd, epoch));
}

Status OvsdbStoreBatch::Transition(const TvdTransition& t) {
  if (t.fenced) return NotBatched("a fenced transition");
  if (t.row) TVD_RETURN_IF_ERROR(ops::CheckEpoch(t.row->epoch));
  return Add(ops::Transition(t, Now()));
}

Status OvsdbStoreBatch::UpsertHost(const std::string& host,
                                   const std::string& underlay) {
  return Add(ops::Host(host, underlay));
}

Status OvsdbStoreBatch::SetAttestation(const std::string& host, bool ok,
                                       const std::string& reason) {
  return Add(ops::Attestation(host, ok, reason, Now()));
}

Status OvsdbStoreBatch::AddAk(const std::string& host,
                              const std::vector<std::uint8_t>& ak) {
  return Add(ops::AddAk(host, ak));
}

Status OvsdbStoreBatch::AddMember(const std::string& tvd,
                                  const std::string& host) {
  return Add(ops::AddMember(tvd, host, Now()));
}

Status OvsdbStoreBatch::RemoveMember(const std::string& tvd,
                                     const std::string& host) {
  return Add(ops::RemoveMember(tvd, host));
}

Status OvsdbStoreBatch::SetVm(const std::string& tvd, const std::string& host,
                              const std::string& vm, bool attached,
                              const std::string& uuid) {
  return Add(ops::SetVm(tvd, host, vm, attached, uuid));
}

Status OvsdbStoreBatch::PutQuotaUsage(const QuotaUsageRow& row) {
  return Add(ops::PutQuotaUsage(row));
}

Status OvsdbStoreBatch::Audit(const std::string& actor,
                              const std::string& action,
                              const std::string& subject, bool allowed,
                              const std::string& reason) {
  audits_.push_back({OvsdbStore::AuditToken(), Now(), actor, action, subject,
                     allowed, reason});
  return Status::Ok();
}

Status OvsdbStoreBatch::PutAkClock(const AkClockRow& row) {
  TVD_RETURN_IF_ERROR(ops::CheckClock(row.clock));
  const std::string name = ovsdb_rows::Hex(row.ak_name);
  std::optional<AkClockRow> seen;
  if (auto mine = clocks_.find(name); mine != clocks_.end()) {
    seen = mine->second;
  } else {
    MutexLock lock(store_.mutex_);
    auto stored = store_.ak_clocks_.find(name);
    if (stored != store_.ak_clocks_.end()) seen = stored->second;
  }
  if (seen && !ops::Later(row, *seen)) return Status::Ok();  // only forward
  TVD_RETURN_IF_ERROR(Add(ops::PutAkClock(row, seen, Now())));
  clocks_[name] = row;
  return Status::Ok();
}
Status OvsdbStoreBatch::PutWrappedDiskKey(const std::string&,
                                          const std::string&,
                                          const std::vector<std::uint8_t>&) {
  return NotBatched("PutWrappedDiskKey");
}
Status OvsdbStoreBatch::PutWrappedVtpmKey(const std::string&,
                                          const std::string&,
                                          const std::vector<std::uint8_t>&) {
  return NotBatched("PutWrappedVtpmKey");
}
Status OvsdbStoreBatch::RecordVtpmBinding(const VtpmBindingRow&) {
  return NotBatched("RecordVtpmBinding");
}

StatusOr<std::vector<TvdRow>> OvsdbStoreBatch::ListTvds() {
  return NotBatched("a read");
}
StatusOr<std::optional<TvdRow>> OvsdbStoreBatch::LoadTvd(const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::vector<HostRow>> OvsdbStoreBatch::ListHosts() {
  return NotBatched("a read");
}
StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
OvsdbStoreBatch::ListAks() {
  return NotBatched("a read");
}
StatusOr<std::vector<AkClockRow>> OvsdbStoreBatch::ListAkClocks() {
  return NotBatched("a read");
}
StatusOr<std::vector<std::string>> OvsdbStoreBatch::Members(
    const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::vector<VmRow>> OvsdbStoreBatch::Vms(const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::optional<std::vector<std::uint8_t>>>
OvsdbStoreBatch::WrappedDiskKey(const std::string&, const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::optional<std::vector<std::uint8_t>>>
OvsdbStoreBatch::WrappedVtpmKey(const std::string&, const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::optional<VtpmBindingRow>> OvsdbStoreBatch::GetVtpmBinding(
    const std::string&, const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::vector<VtpmBindingRow>> OvsdbStoreBatch::ListVtpmBindings(
    const std::string&) {
  return NotBatched("a read");
}
StatusOr<std::vector<QuotaUsageRow>> OvsdbStoreBatch::ListQuotaUsage() {
  return NotBatched("a read");
}
StatusOr<std::vector<AuditRow>> OvsdbStoreBatch::RecentAudit(int) {
  return NotBatched("a read");
}

}  // namespace tvd::master
