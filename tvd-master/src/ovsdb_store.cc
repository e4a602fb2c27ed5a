#include "tvd/master/ovsdb_store.h"

#include <algorithm>
#include <ctime>
#include <limits>

#include "ovsdb_store_batch.h"
#include "ovsdb_store_ops.h"
#include "tvd/master/kek_check.h"
#include "tvd/master/ovsdb_store_rows.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::master {
namespace {

using Json = nlohmann::json;
namespace ov = vswitch::ovsdb;
namespace rows = ovsdb_rows;
namespace ops = ovsdb_ops;
using ops::And;
using ops::Wait;

constexpr char kIdentity[] = "Store_Identity";
// A conditional write that keeps losing to other writers gives up after
// this many rounds (each round lost means another write succeeded).
constexpr int kMaxRounds = 64;

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool Lost(const TxnOutcome& out) {
  return !out.ok && ((out.failed_op && out.error == "timed out") ||
                     (!out.failed_op && out.error == "constraint violation"));
}

std::int64_t Count(const TxnOutcome& out, std::size_t i) {
  if (!out.results.is_array() || out.results.size() <= i) return 0;
  const Json& r = out.results[i];
  if (!r.is_object() || !r.contains("count") ||
      !r["count"].is_number_integer()) {
    return 0;
  }
  return r["count"].get<std::int64_t>();
}

}  // namespace

OvsdbStore::OvsdbStore(OvsdbLinkOptions options) : link_(options) {
  std::string list;
  for (const auto& r : options.remotes) list += (list.empty() ? "" : ", ") + r;
  where_ = "state store " + options.database + " at " + list;
}

StatusOr<std::unique_ptr<OvsdbStore>> OvsdbStore::Open(
    OvsdbStoreOptions options, const SecureBytes& kek) {
  TVD_ASSIGN_OR_RETURN(std::string check, KekCheckValue(kek));
  OvsdbLinkOptions link;
  link.remotes = std::move(options.remotes);
  link.schema_version = kTvdMasterSchemaVersion;
  link.call_timeout = options.call_timeout;
  link.failover_timeout = options.failover_timeout;
  if (options.gate) {
    link.gate = [gate = options.gate] { return gate->Check(); };
  }
  std::unique_ptr<OvsdbStore> store(new OvsdbStore(std::move(link)));
  MutexLock lock(store->mutex_);
  TVD_RETURN_IF_ERROR(store->link_.Connect());
  TVD_RETURN_IF_ERROR(store->CheckIdentity(check));
  TVD_RETURN_IF_ERROR(store->LearnRowAddresses());
  return store;
}

Status OvsdbStore::CheckIdentity(const std::string& kek_check) {
  for (int round = 0; round < kMaxRounds; ++round) {
    TVD_ASSIGN_OR_RETURN(auto ids, Select("reading the store identity",
                                          kIdentity, Json::array()));
    if (ids.size() > 1) {
      return ProtocolError(where_ + ": corrupt store: " +
                           std::to_string(ids.size()) + " Store_Identity rows");
    }
    if (ids.size() == 1) {
      auto id = rows::DecodeIdentity(ids[0]);
      if (!id.ok()) {
        return ProtocolError(where_ +
                             ": corrupt store: " + id.status().message());
      }
      if (id->kek_check != kek_check) {
        return FailedPrecondition(
            where_ +
            " was created with another KEK (check value differs): this "
            "master's KEK cannot unwrap its disk keys");
      }
      return Status::Ok();
    }
    // An empty store: the first master to open it records its KEK check.
    // The wait makes two first masters create one row between them.
    TVD_ASSIGN_OR_RETURN(
        TxnOutcome out,
        Txn(Json::array(
            {Wait(kIdentity, Json::array(), {"kek_check"}, Json::array()),
             ov::Insert(kIdentity, {{"kek_check", kek_check},
                                    {"audit_seq", 0},
                                    {"created_at", Now()}})})));
    if (out.ok) return Status::Ok();
    if (!Lost(out)) return Failed("creating the store identity", out);
    ++races_;
  }
  return Failed("creating the store identity", {});
}

Status OvsdbStore::CheckUtf8(const Json& ops) const {
  // OVSDB strings are UTF-8; the JSON-RPC encoder would replace invalid
  // bytes, storing something else than was asked. Refuse instead.
  try {
    (void)ops.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::type_error&) {
    return InvalidArgument(where_ +
                           ": a value is not valid UTF-8 (OVSDB strings are "
                           "UTF-8); nothing written");
  }
  return Status::Ok();
}

StatusOr<TxnOutcome> OvsdbStore::Txn(const Json& ops) {
  TVD_RETURN_IF_ERROR(CheckUtf8(ops));
  return Addressed(ops);
}

StatusOr<TxnOutcome> OvsdbStore::Addressed(const Json& ops) {
  OvsdbRowAddresses::Plan plan = addresses_.Address(ops);
  StatusOr<TxnOutcome> out = link_.Transact(plan.ops);
  if (out.ok() && out->ok) {
    addresses_.Committed(ops, out->results);
    return out;
  }
  addresses_.Failed(plan);
  if (!plan.changed || !out.ok() || out->error != "constraint violation") {
    return out;
  }
  // A row taken to be absent is there (another master wrote it), or the
  // first sending went through and its answer was lost: by key, as they
  // were, the operations are safe to apply again.
  TVD_ASSIGN_OR_RETURN(TxnOutcome again, link_.Transact(ops));
  if (again.ok) addresses_.Committed(ops, again.results);
  return again;
}

Status OvsdbStore::LearnRowAddresses() {
  for (const std::string& table : OvsdbRowAddresses::Tables()) {
    Json columns = Json::array({"_uuid"});
    for (const std::string& c : *OvsdbRowAddresses::KeyOf(table)) {
      columns.push_back(c);
    }
    Json ops = Json::array({Json{{"op", "select"},
                                 {"table", table},
                                 {"where", Json::array()},
                                 {"columns", columns}}});
    TVD_ASSIGN_OR_RETURN(TxnOutcome out, link_.Read(ops));
    if (!out.ok) return Failed("reading where the " + table + " rows are", out);
    auto rows = rows::SelectedRows(std::move(out.results), 0, table);
    if (!rows.ok()) return rows.status().WithContext(where_);
    for (const Json& row : *rows) addresses_.Learn(table, row);
  }
  return Status::Ok();
}

Status OvsdbStore::Failed(const std::string& what,
                          const TxnOutcome& out) const {
  if (out.error.empty()) {
    return IoError(where_ + ": " + what + ": lost to other writers " +
                   std::to_string(kMaxRounds) + " times in a row");
  }
  return IoError(where_ + ": " + what + ": " + out.error +
                 (out.details.empty() ? "" : ": " + out.details));
}

Status OvsdbStore::Write(const std::string& what, const Json& ops) {
  TVD_ASSIGN_OR_RETURN(TxnOutcome out, Txn(ops));
  if (!out.ok) return Failed(what, out);
  return Status::Ok();
}

StatusOr<std::vector<Json>> OvsdbStore::Select(
    const std::string& what, const std::string& table, Json where,
    std::vector<std::string> columns) {
  Json op = {{"op", "select"}, {"table", table}, {"where", std::move(where)}};
  if (!columns.empty()) op["columns"] = std::move(columns);
  Json ops = Json::array({std::move(op)});
  TVD_RETURN_IF_ERROR(CheckUtf8(ops));
  TVD_ASSIGN_OR_RETURN(TxnOutcome out, link_.Read(ops));
  if (!out.ok) return Failed(what, out);
  auto selected = rows::SelectedRows(std::move(out.results), 0, table);
  if (!selected.ok())
    return selected.status().WithContext(where_ + ": " + what);
  return selected;
}

#define TVD_DECODE_ALL(rows_var, decode, out)           \
  for (const Json& r : rows_var) {                      \
    auto v = decode(r);                                 \
    if (!v.ok()) return v.status().WithContext(where_); \
    out.push_back(std::move(*v));                       \
  }

Status OvsdbStore::PutTvd(const TvdRow& r) {
  TVD_RETURN_IF_ERROR(ops::CheckEpoch(r.epoch));
  MutexLock lock(mutex_);
  return Write("storing TVD " + r.name, ops::PutTvd(r));
}

StatusOr<std::optional<TvdRow>> OvsdbStore::LoadTvd(const std::string& name) {
  MutexLock lock(mutex_);
  return LoadTvdLocked(name);
}

StatusOr<std::optional<TvdRow>> OvsdbStore::LoadTvdLocked(
    const std::string& name) {
  TVD_ASSIGN_OR_RETURN(
      auto found, Select("reading TVD " + name, "TVD", And({{"name", name}})));
  if (found.empty()) return std::optional<TvdRow>();
  TVD_ASSIGN_OR_RETURN(TvdRow row, rows::DecodeTvd(found.front()));
  return std::optional<TvdRow>(std::move(row));
}

Status OvsdbStore::Transition(const TvdTransition& t) {
  if (t.row) TVD_RETURN_IF_ERROR(ops::CheckEpoch(t.row->epoch));
  const std::string what = Describe(t);
  const Json ops = ops::Transition(t, Now());
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(TxnOutcome out,
                       t.fenced ? FencedTxn(t, what, ops) : Txn(ops));
  if (out.ok) return Status::Ok();
  if (!out.failed_op || *out.failed_op != 0 || out.error != "timed out") {
    return Failed(what, out);
  }
  // The precondition failed: either this very transaction went through
  // before (its answer was lost and the link sent it again), or another
  // master changed the TVD first.
  TVD_ASSIGN_OR_RETURN(std::optional<TvdRow> stored, LoadTvdLocked(t.tvd));
  if (AlreadyApplied(t, stored)) return Status::Ok();
  Status refused = CheckTransition(t, stored);
  if (refused.ok()) {
    // Stored as expected now, yet the wait failed: the row changed and
    // changed back in between; the caller decides again.
    return FailedPrecondition("TVD " + t.tvd + " changed on another master");
  }
  races_.fetch_add(1);
  return refused;
}

void OvsdbStore::SetTransitionFence(FencedTransact transact) {
  MutexLock lock(mutex_);
  fence_ = std::move(transact);
}

StatusOr<TxnOutcome> OvsdbStore::FencedTxn(const TvdTransition& t,
                                           const std::string& what,
                                           const Json& ops) {
  if (!fence_) {
    return PermissionDenied(where_ + ": " + what +
                            ": no duty lock to fence it with; nothing written");
  }
  TVD_RETURN_IF_ERROR(CheckUtf8(ops));
  StatusOr<Json> results = fence_(ops);
  TxnOutcome out;
  if (results.ok()) {
    out.ok = true;
    out.results = std::move(results).value();
    return out;
  }
  const Status& s = results.status();
  // The wait on the token (operation 0) failed: as for any transition,
  // the stored row tells a lost race from this transition sent before.
  static constexpr std::string_view kWaitFailed =
      "OVSDB transaction failed at operation 0 (wait TVD): timed out";
  if (s.code() == ErrorCode::kFailedPrecondition &&
      s.message().starts_with(kWaitFailed)) {
    out.failed_op = 0;
    out.error = "timed out";
    return out;
  }
  if (s.code() == ErrorCode::kFailedPrecondition &&
      s.message().starts_with("OVSDB lock '")) {
    return PermissionDenied(where_ + ": " + what + ": " + s.message() +
                            "; nothing written");
  }
  if (s.code() == ErrorCode::kUnavailable) {
    // The lock's connection dropped before the answer: the transition may
    // have committed. Stored: done; not stored: this master no longer
    // holds the lock (its connection is gone), so it is not made again.
    TVD_ASSIGN_OR_RETURN(std::optional<TvdRow> stored, LoadTvdLocked(t.tvd));
    if (AlreadyApplied(t, stored)) {
      out.ok = true;
      return out;
    }
    return PermissionDenied(where_ + ": " + what + ": " + s.message() +
                            "; not stored");
  }
  return IoError(where_ + ": " + what + ": " + s.message());
}

Status OvsdbStore::RemoveTvd(const std::string& name) {
  MutexLock lock(mutex_);
  return Write("removing TVD " + name, ops::RemoveTvd(name));
}

Status OvsdbStore::SetEpoch(const std::string& tvd, std::uint64_t epoch) {
  TVD_RETURN_IF_ERROR(ops::CheckEpoch(epoch));
  MutexLock lock(mutex_);
  return Write("storing epoch of " + tvd, ops::SetEpoch(tvd, epoch));
}

StatusOr<std::vector<TvdRow>> OvsdbStore::ListTvds() {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select("listing TVDs", "TVD", Json::array()));
  std::vector<TvdRow> out;
  TVD_DECODE_ALL(found, rows::DecodeTvd, out);
  std::sort(out.begin(), out.end(),
            [](const TvdRow& a, const TvdRow& b) { return a.name < b.name; });
  return out;
}

Status OvsdbStore::UpsertHost(const std::string& host,
                              const std::string& underlay) {
  MutexLock lock(mutex_);
  return Write("storing host " + host, ops::Host(host, underlay));
}

Status OvsdbStore::SetAttestation(const std::string& host, bool ok,
                                  const std::string& reason) {
  MutexLock lock(mutex_);
  return Write("storing attestation of " + host,
               ops::Attestation(host, ok, reason, Now()));
}

StatusOr<std::vector<HostRow>> OvsdbStore::ListHosts() {
  MutexLock lock(mutex_);
  // The duty holder lists every host every second: only the columns read
  // below (a row's _uuid and _version would be most of the reply).
  TVD_ASSIGN_OR_RETURN(auto hosts, Select("listing hosts", "Host",
                                          Json::array(), {"name", "underlay"}));
  TVD_ASSIGN_OR_RETURN(
      auto attestations,
      Select("listing attestations", "Attestation", Json::array(),
             {"host", "attested", "reason", "at"}));
  // A host attested before its first join has no Host row yet (its
  // underlay is empty then), as in the SQLite store.
  std::map<std::string, HostRow> by_name;
  for (const Json& r : hosts) {
    auto h = rows::DecodeHostUnderlay(r);
    if (!h.ok()) return h.status().WithContext(where_);
    by_name[h->first].name = h->first;
    by_name[h->first].underlay = h->second;
  }
  for (const Json& r : attestations) {
    auto a = rows::DecodeAttestation(r);
    if (!a.ok()) return a.status().WithContext(where_);
    HostRow& h = by_name[a->name];
    h.name = a->name;
    h.attested = a->attested;
    h.attestation_reason = a->attestation_reason;
    h.attested_at = a->attested_at;
  }
  std::vector<HostRow> out;
  for (auto& [name, row] : by_name) out.push_back(std::move(row));
  return out;
}

Status OvsdbStore::AddAk(const std::string& host,
                         const std::vector<std::uint8_t>& ak) {
  MutexLock lock(mutex_);
  return Write("storing AK of " + host, ops::AddAk(host, ak));
}

StatusOr<std::vector<std::pair<std::string, std::vector<std::uint8_t>>>>
OvsdbStore::ListAks() {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found, Select("listing AKs", "AK", Json::array()));
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> out;
  TVD_DECODE_ALL(found, rows::DecodeAk, out);
  std::sort(out.begin(), out.end());
  return out;
}

Status OvsdbStore::PutAkClock(const AkClockRow& row) {
  TVD_RETURN_IF_ERROR(ops::CheckClock(row.clock));
  const std::string what = "storing the TPM clock of an AK";
  const std::string name = rows::Hex(row.ak_name);
  MutexLock lock(mutex_);
  for (int round = 0; round < kMaxRounds; ++round) {
    TVD_ASSIGN_OR_RETURN(
        auto found, Select(what, "AK_Clock", And({{"ak_name_hex", name}})));
    std::optional<AkClockRow> seen;
    if (!found.empty()) {
      auto stored = rows::DecodeAkClock(found[0]);
      if (!stored.ok()) return stored.status().WithContext(where_);
      seen = *stored;
      ak_clocks_[name] = *stored;
      // The row only ever moves forward.
      if (!ops::Later(row, *stored)) return Status::Ok();
    }
    // Replace only what was read: another writer's later clock in between
    // makes the wait fail, and the next round compares with it.
    TVD_ASSIGN_OR_RETURN(TxnOutcome out,
                         Txn(ops::PutAkClock(row, seen, Now())));
    if (out.ok) {
      ak_clocks_[name] = row;
      return Status::Ok();
    }
    if (!Lost(out)) return Failed(what, out);
    ++races_;
  }
  return Failed(what, {});
}

StatusOr<std::vector<AkClockRow>> OvsdbStore::ListAkClocks() {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select("listing AK clocks", "AK_Clock", Json::array()));
  std::vector<AkClockRow> out;
  TVD_DECODE_ALL(found, rows::DecodeAkClock, out);
  std::sort(out.begin(), out.end(),
            [](const AkClockRow& a, const AkClockRow& b) {
              return a.ak_name < b.ak_name;
            });
  for (const AkClockRow& row : out) ak_clocks_[rows::Hex(row.ak_name)] = row;
  return out;
}

Status OvsdbStore::AddMember(const std::string& tvd, const std::string& host) {
  MutexLock lock(mutex_);
  return Write("storing membership " + tvd + "/" + host,
               ops::AddMember(tvd, host, Now()));
}

Status OvsdbStore::RemoveMember(const std::string& tvd,
                                const std::string& host) {
  MutexLock lock(mutex_);
  return Write("removing membership " + tvd + "/" + host,
               ops::RemoveMember(tvd, host));
}

StatusOr<std::vector<std::string>> OvsdbStore::Members(const std::string& tvd) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found, Select("listing members of " + tvd,
                                          "Membership", And({{"tvd", tvd}})));
  std::vector<std::string> out;
  TVD_DECODE_ALL(found, rows::DecodeMemberHost, out);
  std::sort(out.begin(), out.end());
  return out;
}

Status OvsdbStore::SetVm(const std::string& tvd, const std::string& host,
                         const std::string& vm, bool attached,
                         const std::string& uuid) {
  MutexLock lock(mutex_);
  return Write((attached ? "storing VM " : "removing VM ") + tvd + "/" + vm,
               ops::SetVm(tvd, host, vm, attached, uuid));
}

StatusOr<std::vector<VmRow>> OvsdbStore::Vms(const std::string& tvd) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(
      auto found, Select("listing VMs of " + tvd, "VM", And({{"tvd", tvd}})));
  std::vector<VmRow> out;
  TVD_DECODE_ALL(found, rows::DecodeVm, out);
  std::sort(out.begin(), out.end(),
            [](const VmRow& a, const VmRow& b) { return a.vm < b.vm; });
  return out;
}

Status OvsdbStore::PutWrappedDiskKey(const std::string& tvd,
                                     const std::string& vm,
                                     const std::vector<std::uint8_t>& wrapped) {
  return PutWrappedOnce(
      "storing disk key of " + tvd + "/" + vm, "Disk_Key", tvd, vm,
      {{"tvd", tvd}, {"vm", vm}, {"wrapped_hex", rows::Hex(wrapped)}}, wrapped,
      rows::DecodeDiskKey);
}

Status OvsdbStore::PutWrappedOnce(
    const std::string& what, const std::string& table, const std::string& tvd,
    const std::string& vm, const Json& row,
    const std::vector<std::uint8_t>& wrapped,
    StatusOr<std::vector<std::uint8_t>> (*decode)(const Json&)) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(TxnOutcome out,
                       Txn(Json::array({ov::Insert(table, row)})));
  if (out.ok) return Status::Ok();
  if (!Lost(out)) return Failed(what, out);
  // A key is there. When it is this one, the transaction was sent twice
  // (its first answer lost); otherwise another key exists and is kept.
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select(what, table, And({{"tvd", tvd}, {"vm", vm}})));
  if (found.size() == 1) {
    auto stored = decode(found[0]);
    if (!stored.ok()) return stored.status().WithContext(where_);
    if (*stored == wrapped) return Status::Ok();
  }
  return AlreadyExists(where_ + ": " + what +
                       ": a wrapped key is already stored (never overwritten)");
}

StatusOr<std::optional<std::vector<std::uint8_t>>> OvsdbStore::WrappedDiskKey(
    const std::string& tvd, const std::string& vm) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(
      auto found, Select("reading disk key of " + tvd + "/" + vm, "Disk_Key",
                         And({{"tvd", tvd}, {"vm", vm}})));
  if (found.empty()) return std::optional<std::vector<std::uint8_t>>();
  auto key = rows::DecodeDiskKey(found[0]);
  if (!key.ok()) return key.status().WithContext(where_);
  return std::optional<std::vector<std::uint8_t>>(std::move(*key));
}

Status OvsdbStore::PutWrappedVtpmKey(const std::string& tvd,
                                     const std::string& vm,
                                     const std::vector<std::uint8_t>& wrapped) {
  // The binding's columns start empty (section 5a of docs/master.md).
  return PutWrappedOnce("storing vTPM key of " + tvd + "/" + vm, "Vtpm", tvd,
                        vm,
                        {{"tvd", tvd},
                         {"vm", vm},
                         {"key_wrapped_hex", rows::Hex(wrapped)},
                         {"host", ""},
                         {"ek_hex", ""},
                         {"ak_hex", ""},
                         {"created_at", 0}},
                        wrapped, rows::DecodeVtpmKey);
}

StatusOr<std::optional<std::vector<std::uint8_t>>> OvsdbStore::WrappedVtpmKey(
    const std::string& tvd, const std::string& vm) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select("reading vTPM key of " + tvd + "/" + vm, "Vtpm",
                              And({{"tvd", tvd}, {"vm", vm}})));
  if (found.empty()) return std::optional<std::vector<std::uint8_t>>();
  auto key = rows::DecodeVtpmKey(found[0]);
  if (!key.ok()) return key.status().WithContext(where_);
  return std::optional<std::vector<std::uint8_t>>(std::move(*key));
}

Status OvsdbStore::RecordVtpmBinding(const VtpmBindingRow& r) {
  if (r.created_at < 0) {
    return InvalidArgument("vTPM creation time " +
                           std::to_string(r.created_at) +
                           " is out of range for the state store");
  }
  const std::string what = "recording vTPM of " + r.tvd + "/" + r.vm;
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(
      TxnOutcome out,
      Txn(Json::array({ov::Update("Vtpm", And({{"tvd", r.tvd}, {"vm", r.vm}}),
                                  {{"host", r.host},
                                   {"ek_hex", rows::Hex(r.ek_public)},
                                   {"ak_hex", rows::Hex(r.ak_public)},
                                   {"created_at", r.created_at}})})));
  if (!out.ok) return Failed(what, out);
  if (Count(out, 0) == 0) {
    return NotFound("no vTPM key of " + r.tvd + "/" + r.vm);
  }
  return Status::Ok();
}

StatusOr<std::optional<VtpmBindingRow>> OvsdbStore::GetVtpmBinding(
    const std::string& tvd, const std::string& vm) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select("reading vTPM of " + tvd + "/" + vm, "Vtpm",
                              And({{"tvd", tvd}, {"vm", vm}})));
  for (const Json& row : found) {
    auto b = rows::DecodeVtpmBinding(row);
    if (!b.ok()) return b.status().WithContext(where_);
    if (!b->host.empty()) return std::optional<VtpmBindingRow>(std::move(*b));
  }
  return std::optional<VtpmBindingRow>();
}

StatusOr<std::vector<VtpmBindingRow>> OvsdbStore::ListVtpmBindings(
    const std::string& tvd) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found, Select("listing vTPMs of " + tvd, "Vtpm",
                                          And({{"tvd", tvd}})));
  std::vector<VtpmBindingRow> all;
  TVD_DECODE_ALL(found, rows::DecodeVtpmBinding, all);
  std::vector<VtpmBindingRow> out;
  for (VtpmBindingRow& b : all) {
    if (!b.host.empty()) out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(),
            [](const VtpmBindingRow& a, const VtpmBindingRow& b) {
              return a.vm < b.vm;
            });
  return out;
}

Status OvsdbStore::PutQuotaUsage(const QuotaUsageRow& r) {
  MutexLock lock(mutex_);
  return Write("storing the quota usage of " + r.tvd + "/" + r.host,
               ops::PutQuotaUsage(r));
}

StatusOr<std::vector<QuotaUsageRow>> OvsdbStore::ListQuotaUsage() {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(
      auto found, Select("listing quota usage", "Quota_Usage", Json::array()));
  std::vector<QuotaUsageRow> out;
  TVD_DECODE_ALL(found, rows::DecodeQuotaUsage, out);
  std::sort(out.begin(), out.end(),
            [](const QuotaUsageRow& a, const QuotaUsageRow& b) {
              return std::tie(a.tvd, a.host) < std::tie(b.tvd, b.host);
            });
  return out;
}

StatusOr<std::int64_t> OvsdbStore::ReserveAuditIds(std::int64_t n) {
  if (audit_next_ > 0 && audit_last_ - audit_next_ + 1 >= n) {
    std::int64_t first = audit_next_;
    audit_next_ += n;
    return first;
  }
  // A block of its own, so that replicas writing audit rows at once do not
  // race for every row (ids stay unique; the unused rest of a block is a
  // gap when the process ends).
  const std::int64_t block = std::max(n, kAuditIdBlock);
  const std::string what = "reserving audit ids";
  for (int round = 0; round < kMaxRounds; ++round) {
    TVD_ASSIGN_OR_RETURN(auto ids, Select(what, kIdentity, Json::array()));
    if (ids.size() != 1) {
      return ProtocolError(where_ + ": corrupt store: " +
                           std::to_string(ids.size()) + " Store_Identity rows");
    }
    auto id = rows::DecodeIdentity(ids[0]);
    if (!id.ok()) return id.status().WithContext(where_);
    const std::int64_t seq = id->audit_seq;
    if (seq > std::numeric_limits<std::int64_t>::max() - block) {
      return Failed(what, {false, {}, std::nullopt, "audit ids exhausted", ""});
    }
    TVD_ASSIGN_OR_RETURN(
        TxnOutcome out,
        Txn(Json::array({Wait(kIdentity, Json::array(), {"audit_seq"},
                              Json::array({Json{{"audit_seq", seq}}})),
                         ov::Update(kIdentity, Json::array(),
                                    {{"audit_seq", seq + block}})})));
    if (out.ok) {
      audit_next_ = seq + 1 + n;
      audit_last_ = seq + block;
      return seq + 1;
    }
    if (!Lost(out)) return Failed(what, out);
    ++races_;
  }
  return Failed(what, {});
}

std::string OvsdbStore::AuditToken() {
  SecureBytes r = SecureBytes::Random(16);
  return rows::Hex(std::vector<std::uint8_t>(r.view().begin(), r.view().end()));
}

Status OvsdbStore::Audit(const std::string& actor, const std::string& action,
                         const std::string& subject, bool allowed,
                         const std::string& reason) {
  // An audit row is a record of what happened: text that is not valid
  // UTF-8 (a reason quoting a peer's bytes) is kept with those bytes
  // replaced by U+FFFD rather than refused and lost.
  const std::string what = "writing audit row";
  const std::string token = AuditToken();
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(std::int64_t id, ReserveAuditIds(1));
  TVD_ASSIGN_OR_RETURN(
      TxnOutcome out,
      link_.Transact(Json::array({ops::InsertAudit(
          id, token, Now(), actor, action, subject, allowed, reason)})));
  if (out.ok) return Status::Ok();
  if (Lost(out)) {
    // The token is there: this row was committed by an earlier send whose
    // answer was lost.
    TVD_ASSIGN_OR_RETURN(auto mine,
                         Select(what, "Audit", And({{"token", token}})));
    if (!mine.empty()) return Status::Ok();
  }
  return Failed(what, out);
}

StatusOr<std::vector<AuditRow>> OvsdbStore::RecentAudit(int limit) {
  MutexLock lock(mutex_);
  if (limit <= 0) return std::vector<AuditRow>{};
  // Ids are unique but not in time order across replicas (each takes a
  // block of them): the newest rows are found by time, in widening
  // windows, the last of which is everything.
  const std::int64_t now = Now();
  std::vector<Json> found;
  for (std::int64_t window : {60, 3600, 86400, 30 * 86400, -1}) {
    Json where = window < 0
                     ? Json::array()
                     : Json::array({Json::array({"at", ">=", now - window})});
    TVD_ASSIGN_OR_RETURN(found, Select("reading audit", "Audit", where));
    if (found.size() >= static_cast<std::size_t>(limit)) break;
  }
  std::vector<AuditRow> out;
  TVD_DECODE_ALL(found, rows::DecodeAudit, out);
  std::sort(out.begin(), out.end(), [](const AuditRow& a, const AuditRow& b) {
    return std::tie(a.at, a.id) > std::tie(b.at, b.id);
  });
  if (out.size() > static_cast<std::size_t>(limit)) {
    out.resize(static_cast<std::size_t>(limit));
  }
  return out;
}

std::unique_ptr<StoreBatch> OvsdbStore::BeginBatch() {
  return std::make_unique<OvsdbStoreBatch>(*this);
}

std::uint64_t OvsdbStore::failovers() {
  MutexLock lock(mutex_);
  return link_.failovers();
}

std::string OvsdbStore::remote() {
  MutexLock lock(mutex_);
  return link_.remote();
}

StatusOr<StorePtr> OpenOvsdbStore(OvsdbStoreOptions options,
                                  const SecureBytes& kek) {
  TVD_ASSIGN_OR_RETURN(auto store, OvsdbStore::Open(std::move(options), kek));
  return StorePtr(std::move(store));
}

}  // namespace tvd::master
