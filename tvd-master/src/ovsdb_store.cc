#include "tvd/master/ovsdb_store.h"

#include <algorithm>
#include <ctime>
#include <limits>

#include "tvd/master/kek_check.h"
#include "tvd/master/ovsdb_store_rows.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::master {
namespace {

using Json = nlohmann::json;
namespace ov = vswitch::ovsdb;
namespace rows = ovsdb_rows;

constexpr char kIdentity[] = "Store_Identity";
// A conditional write that keeps losing to other writers gives up after
// this many rounds (each round lost means another write succeeded).
constexpr int kMaxRounds = 64;

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// OVSDB integers are signed 64-bit; amounts beyond are stored as the
// maximum, as in the SQLite store.
std::int64_t Clamped(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(
                 std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(v);
}

Json And(std::initializer_list<std::pair<const char*, Json>> eqs) {
  Json w = Json::array();
  for (const auto& [col, v] : eqs) w.push_back(Json::array({col, "==", v}));
  return w;
}

Json Wait(const std::string& table, Json where, std::vector<std::string> cols,
          Json rows_expected) {
  return Json{{"op", "wait"},
              {"timeout", 0},
              {"table", table},
              {"where", std::move(where)},
              {"columns", cols},
              {"until", "=="},
              {"rows", std::move(rows_expected)}};
}

// What goes with a host's membership of a TVD (`w`: tvd and host).
Json RemoveMemberOps(const Json& w) {
  return Json::array({ov::Delete("Membership", w), ov::Delete("VM", w),
                      ov::Delete("Vtpm", w), ov::Delete("Quota_Usage", w)});
}

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

bool Later(const AkClockRow& a, const AkClockRow& b) {
  return std::tie(a.reset_count, a.restart_count, a.clock) >
         std::tie(b.reset_count, b.restart_count, b.clock);
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
  return link_.Transact(ops);
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

StatusOr<std::vector<Json>> OvsdbStore::Select(const std::string& what,
                                               const std::string& table,
                                               Json where) {
  Json ops = Json::array(
      {Json{{"op", "select"}, {"table", table}, {"where", std::move(where)}}});
  TVD_RETURN_IF_ERROR(CheckUtf8(ops));
  TVD_ASSIGN_OR_RETURN(TxnOutcome out, link_.Read(ops));
  if (!out.ok) return Failed(what, out);
  auto selected = rows::SelectedRows(out.results, 0, table);
  if (!selected.ok())
    return selected.status().WithContext(where_ + ": " + what);
  return selected;
}

Status OvsdbStore::Upsert(const std::string& what, const std::string& table,
                          const Json& where, const Json& update_row,
                          const Json& insert_row) {
  for (int round = 0; round < kMaxRounds; ++round) {
    TVD_ASSIGN_OR_RETURN(
        TxnOutcome up,
        Txn(Json::array({ov::Update(table, where, update_row)})));
    if (!up.ok) return Failed(what, up);
    if (Count(up, 0) > 0) return Status::Ok();
    TVD_ASSIGN_OR_RETURN(TxnOutcome in,
                         Txn(Json::array({ov::Insert(table, insert_row)})));
    if (in.ok) return Status::Ok();
    if (!Lost(in)) return Failed(what, in);
    ++races_;  // another writer inserted it first: update that row
  }
  return Failed(what, {});
}

#define TVD_DECODE_ALL(rows_var, decode, out)           \
  for (const Json& r : rows_var) {                      \
    auto v = decode(r);                                 \
    if (!v.ok()) return v.status().WithContext(where_); \
    out.push_back(std::move(*v));                       \
  }

namespace {

Status CheckEpoch(std::uint64_t epoch) {
  if (epoch >
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return InvalidArgument("epoch " + std::to_string(epoch) +
                           " is out of range for the state store");
  }
  return Status::Ok();
}

Json TvdColumns(const TvdRow& r) {
  return {
      {"name", r.name},         {"policy_xml", r.policy_xml},
      {"digest", r.digest_hex}, {"epoch", static_cast<std::int64_t>(r.epoch)},
      {"token", r.token},       {"key_wrapped_hex", rows::Hex(r.key_wrapped)}};
}

}  // namespace

Status OvsdbStore::PutTvd(const TvdRow& r) {
  TVD_RETURN_IF_ERROR(CheckEpoch(r.epoch));
  MutexLock lock(mutex_);
  // Insert or replace: the delete and the insert commit together.
  return Write("storing TVD " + r.name,
               Json::array({ov::Delete("TVD", And({{"name", r.name}})),
                            ov::Insert("TVD", TvdColumns(r))}));
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
  if (t.row) TVD_RETURN_IF_ERROR(CheckEpoch(t.row->epoch));
  const std::string what = Describe(t);
  Json ops = Json::array();
  Json tvd_row = And({{"name", t.tvd}});
  if (t.create) {
    ops.push_back(Wait("TVD", tvd_row, {"name"}, Json::array()));
  } else {
    ops.push_back(Wait("TVD", tvd_row, {"token"},
                       Json::array({Json{{"token", t.expect_token}}})));
  }
  if (t.remove_tvd) {
    for (const char* table :
         {"Membership", "VM", "Disk_Key", "Vtpm", "Quota_Usage"}) {
      ops.push_back(ov::Delete(table, And({{"tvd", t.tvd}})));
    }
    ops.push_back(ov::Delete("TVD", tvd_row));
  } else {
    if (t.row) {
      ops.push_back(ov::Delete("TVD", tvd_row));
      ops.push_back(ov::Insert("TVD", TvdColumns(*t.row)));
    }
    for (const std::string& host : t.remove_members) {
      Json w = And({{"tvd", t.tvd}, {"host", host}});
      for (Json& op : RemoveMemberOps(w)) ops.push_back(std::move(op));
    }
    // Kept when present: delete and insert again in one transaction (an
    // insert alone would fail the whole transaction on the index).
    for (const std::string& host : t.add_members) {
      Json w = And({{"tvd", t.tvd}, {"host", host}});
      ops.push_back(ov::Delete("Membership", w));
      ops.push_back(ov::Insert(
          "Membership", {{"tvd", t.tvd}, {"host", host}, {"since", Now()}}));
    }
  }
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
  return Write("removing TVD " + name,
               Json::array({ov::Delete("TVD", And({{"name", name}})),
                            ov::Delete("Membership", And({{"tvd", name}})),
                            ov::Delete("VM", And({{"tvd", name}})),
                            ov::Delete("Disk_Key", And({{"tvd", name}})),
                            ov::Delete("Vtpm", And({{"tvd", name}})),
                            ov::Delete("Quota_Usage", And({{"tvd", name}}))}));
}

Status OvsdbStore::SetEpoch(const std::string& tvd, std::uint64_t epoch) {
  TVD_RETURN_IF_ERROR(CheckEpoch(epoch));
  MutexLock lock(mutex_);
  return Write(
      "storing epoch of " + tvd,
      Json::array({ov::Update("TVD", And({{"name", tvd}}),
                              {{"epoch", static_cast<std::int64_t>(epoch)}})}));
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
  return Upsert("storing host " + host, "Host", And({{"name", host}}),
                {{"underlay", underlay}},
                {{"name", host},
                 {"underlay", underlay},
                 {"attested", false},
                 {"reason", ""},
                 {"attested_at", 0}});
}

Status OvsdbStore::SetAttestation(const std::string& host, bool ok,
                                  const std::string& reason) {
  MutexLock lock(mutex_);
  std::int64_t now = Now();
  return Upsert("storing attestation of " + host, "Host", And({{"name", host}}),
                {{"attested", ok}, {"reason", reason}, {"attested_at", now}},
                {{"name", host},
                 {"underlay", ""},
                 {"attested", ok},
                 {"reason", reason},
                 {"attested_at", now}});
}

StatusOr<std::vector<HostRow>> OvsdbStore::ListHosts() {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select("listing hosts", "Host", Json::array()));
  std::vector<HostRow> out;
  TVD_DECODE_ALL(found, rows::DecodeHost, out);
  std::sort(out.begin(), out.end(),
            [](const HostRow& a, const HostRow& b) { return a.name < b.name; });
  return out;
}

Status OvsdbStore::AddAk(const std::string& host,
                         const std::vector<std::uint8_t>& ak) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(
      TxnOutcome out,
      Txn(Json::array(
          {ov::Insert("AK", {{"host", host}, {"ak_hex", rows::Hex(ak)}})})));
  // A constraint violation: the (host, AK) row is there already.
  if (out.ok || Lost(out)) return Status::Ok();
  return Failed("storing AK of " + host, out);
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
  if (row.clock >
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return InvalidArgument("TPM clock " + std::to_string(row.clock) +
                           " is out of range for the state db");
  }
  const std::string what = "storing the TPM clock of an AK";
  const std::string name = rows::Hex(row.ak_name);
  Json key = And({{"ak_name_hex", name}});
  Json values = {
      {"reset_count", static_cast<std::int64_t>(row.reset_count)},
      {"restart_count", static_cast<std::int64_t>(row.restart_count)},
      {"clock", static_cast<std::int64_t>(row.clock)}};
  MutexLock lock(mutex_);
  for (int round = 0; round < kMaxRounds; ++round) {
    TVD_ASSIGN_OR_RETURN(auto found, Select(what, "AK_Clock", key));
    TxnOutcome out;
    if (found.empty()) {
      Json insert = values;
      insert["ak_name_hex"] = name;
      insert["at"] = Now();
      TVD_ASSIGN_OR_RETURN(out,
                           Txn(Json::array({ov::Insert("AK_Clock", insert)})));
    } else {
      auto stored = rows::DecodeAkClock(found[0]);
      if (!stored.ok()) return stored.status().WithContext(where_);
      // The row only ever moves forward.
      if (!Later(row, *stored)) return Status::Ok();
      Json seen = {
          {"reset_count", static_cast<std::int64_t>(stored->reset_count)},
          {"restart_count", static_cast<std::int64_t>(stored->restart_count)},
          {"clock", static_cast<std::int64_t>(stored->clock)}};
      Json update = values;
      update["at"] = Now();
      // Replace only what was read: another writer's later clock in
      // between makes the wait fail, and the next round compares with it.
      TVD_ASSIGN_OR_RETURN(
          out, Txn(Json::array({Wait("AK_Clock", key,
                                     {"reset_count", "restart_count", "clock"},
                                     Json::array({seen})),
                                ov::Update("AK_Clock", key, update)})));
    }
    if (out.ok) return Status::Ok();
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
  return out;
}

Status OvsdbStore::AddMember(const std::string& tvd, const std::string& host) {
  MutexLock lock(mutex_);
  TVD_ASSIGN_OR_RETURN(
      TxnOutcome out,
      Txn(Json::array({ov::Insert(
          "Membership", {{"tvd", tvd}, {"host", host}, {"since", Now()}})})));
  if (out.ok || Lost(out)) return Status::Ok();
  return Failed("storing membership " + tvd + "/" + host, out);
}

Status OvsdbStore::RemoveMember(const std::string& tvd,
                                const std::string& host) {
  MutexLock lock(mutex_);
  Json w = And({{"tvd", tvd}, {"host", host}});
  return Write("removing membership " + tvd + "/" + host, RemoveMemberOps(w));
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
  if (attached) {
    return Write("storing VM " + tvd + "/" + vm,
                 Json::array({ov::Delete("VM", And({{"tvd", tvd}, {"vm", vm}})),
                              ov::Insert("VM", {{"tvd", tvd},
                                                {"host", host},
                                                {"vm", vm},
                                                {"uuid", uuid}})}));
  }
  // The VM's vTPM on that host goes with it (the host wiped its state).
  Json w = And({{"tvd", tvd}, {"host", host}, {"vm", vm}});
  return Write("removing VM " + tvd + "/" + vm,
               Json::array({ov::Delete("VM", w), ov::Delete("Vtpm", w)}));
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
  return Write(
      "storing the quota usage of " + r.tvd + "/" + r.host,
      Json::array(
          {ov::Delete("Quota_Usage", And({{"tvd", r.tvd}, {"host", r.host}})),
           ov::Insert("Quota_Usage",
                      {{"tvd", r.tvd},
                       {"host", r.host},
                       {"domains", Clamped(r.amounts.domains)},
                       {"vcpus", Clamped(r.amounts.vcpus)},
                       {"memory_kib", Clamped(r.amounts.memory_kib)},
                       {"disk_bytes", Clamped(r.amounts.disk_bytes)}})}));
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

Status OvsdbStore::Audit(const std::string& actor, const std::string& action,
                         const std::string& subject, bool allowed,
                         const std::string& reason) {
  // An audit row is a record of what happened: text that is not valid
  // UTF-8 (a reason quoting a peer's bytes) is kept with those bytes
  // replaced by U+FFFD rather than refused and lost.
  const std::string what = "writing audit row";
  const std::string token = rows::Hex([] {
    SecureBytes r = SecureBytes::Random(16);
    return std::vector<std::uint8_t>(r.view().begin(), r.view().end());
  }());
  std::int64_t at = Now();
  MutexLock lock(mutex_);
  for (int round = 0; round < kMaxRounds; ++round) {
    TVD_ASSIGN_OR_RETURN(auto ids, Select(what, kIdentity, Json::array()));
    if (ids.size() != 1) {
      return ProtocolError(where_ + ": corrupt store: " +
                           std::to_string(ids.size()) + " Store_Identity rows");
    }
    auto id = rows::DecodeIdentity(ids[0]);
    if (!id.ok()) return id.status().WithContext(where_);
    std::int64_t seq = id->audit_seq;
    if (seq == std::numeric_limits<std::int64_t>::max()) {
      return Failed(what, {false, {}, std::nullopt, "audit ids exhausted", ""});
    }
    TVD_ASSIGN_OR_RETURN(
        TxnOutcome out,
        link_.Transact(Json::array(
            {Wait(kIdentity, Json::array(), {"audit_seq"},
                  Json::array({Json{{"audit_seq", seq}}})),
             ov::Update(kIdentity, Json::array(), {{"audit_seq", seq + 1}}),
             ov::Insert("Audit", {{"id", seq + 1},
                                  {"token", token},
                                  {"at", at},
                                  {"actor", actor},
                                  {"action", action},
                                  {"subject", subject},
                                  {"allowed", allowed},
                                  {"reason", reason}})})));
    if (out.ok) return Status::Ok();
    if (!Lost(out)) return Failed(what, out);
    if (!out.failed_op) {
      // The token is there: this row was committed by an earlier send
      // whose answer was lost.
      TVD_ASSIGN_OR_RETURN(auto mine,
                           Select(what, "Audit", And({{"token", token}})));
      if (!mine.empty()) return Status::Ok();
    }
    ++races_;
  }
  return Failed(what, {});
}

StatusOr<std::vector<AuditRow>> OvsdbStore::RecentAudit(int limit) {
  MutexLock lock(mutex_);
  if (limit <= 0) return std::vector<AuditRow>{};
  TVD_ASSIGN_OR_RETURN(auto ids,
                       Select("reading audit", kIdentity, Json::array()));
  if (ids.empty()) return std::vector<AuditRow>{};
  auto id = rows::DecodeIdentity(ids[0]);
  if (!id.ok()) return id.status().WithContext(where_);
  if (id->audit_seq == 0) return std::vector<AuditRow>{};
  // Ids are dense (each taken under a wait on audit_seq): the newest
  // `limit` rows are those from seq - limit + 1 (ids start at 1, and the
  // server checks a condition's value against the column's range).
  std::int64_t from = std::max<std::int64_t>(1, id->audit_seq - limit + 1);
  TVD_ASSIGN_OR_RETURN(auto found,
                       Select("reading audit", "Audit",
                              Json::array({Json::array({"id", ">=", from})})));
  std::vector<AuditRow> out;
  TVD_DECODE_ALL(found, rows::DecodeAudit, out);
  std::sort(out.begin(), out.end(),
            [](const AuditRow& a, const AuditRow& b) { return a.id > b.id; });
  if (out.size() > static_cast<std::size_t>(limit)) {
    out.resize(static_cast<std::size_t>(limit));
  }
  return out;
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
