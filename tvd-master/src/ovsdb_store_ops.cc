#include "ovsdb_store_ops.h"

#include <limits>
#include <tuple>

#include "tvd/master/ovsdb_store_rows.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::master::ovsdb_ops {
namespace {

namespace ov = vswitch::ovsdb;
namespace rows = ovsdb_rows;

Json TvdColumns(const TvdRow& r) {
  return {
      {"name", r.name},         {"policy_xml", r.policy_xml},
      {"digest", r.digest_hex}, {"epoch", static_cast<std::int64_t>(r.epoch)},
      {"token", r.token},       {"key_wrapped_hex", rows::Hex(r.key_wrapped)}};
}

// OVSDB integers are signed 64-bit.
bool FitsInt64(std::uint64_t v) {
  return v <=
         static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

// What goes with a host's membership of a TVD (`w`: tvd and host).
void RemoveMemberOps(const Json& w, Json& ops) {
  for (const char* table : {"Membership", "VM", "Vtpm", "Quota_Usage"}) {
    ops.push_back(ov::Delete(table, w));
  }
}

// Insert or replace the row of `key` in `table`: the delete and the insert
// commit together (an insert alone would fail on the index when the row is
// there).
Json Replace(const std::string& table, Json key, Json row) {
  return Json::array(
      {ov::Delete(table, std::move(key)), ov::Insert(table, std::move(row))});
}

}  // namespace

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

std::int64_t Clamped(std::uint64_t v) {
  return FitsInt64(v) ? static_cast<std::int64_t>(v)
                      : std::numeric_limits<std::int64_t>::max();
}

Status CheckEpoch(std::uint64_t epoch) {
  if (FitsInt64(epoch)) return Status::Ok();
  return InvalidArgument("epoch " + std::to_string(epoch) +
                         " is out of range for the state store");
}

Status CheckClock(std::uint64_t clock) {
  if (FitsInt64(clock)) return Status::Ok();
  return InvalidArgument("TPM clock " + std::to_string(clock) +
                         " is out of range for the state db");
}

bool Later(const AkClockRow& a, const AkClockRow& b) {
  return std::tie(a.reset_count, a.restart_count, a.clock) >
         std::tie(b.reset_count, b.restart_count, b.clock);
}

Json PutTvd(const TvdRow& r) {
  return Replace("TVD", And({{"name", r.name}}), TvdColumns(r));
}

Json RemoveTvd(const std::string& name) {
  Json ops = Json::array({ov::Delete("TVD", And({{"name", name}}))});
  for (const char* table :
       {"Membership", "VM", "Disk_Key", "Vtpm", "Quota_Usage", "Departure"}) {
    ops.push_back(ov::Delete(table, And({{"tvd", name}})));
  }
  return ops;
}

Json SetEpoch(const std::string& tvd, std::uint64_t epoch) {
  return Json::array(
      {ov::Update("TVD", And({{"name", tvd}}),
                  {{"epoch", static_cast<std::int64_t>(epoch)}})});
}

Json Transition(const TvdTransition& t, std::int64_t now) {
  Json ops = Json::array();
  Json tvd_row = And({{"name", t.tvd}});
  if (t.create) {
    ops.push_back(Wait("TVD", tvd_row, {"name"}, Json::array()));
  } else {
    ops.push_back(Wait("TVD", tvd_row, {"token"},
                       Json::array({Json{{"token", t.expect_token}}})));
  }
  if (t.remove_tvd) {
    for (Json& op : RemoveTvd(t.tvd)) ops.push_back(std::move(op));
    return ops;
  }
  if (t.row) {
    for (Json& op : PutTvd(*t.row)) ops.push_back(std::move(op));
  }
  for (const std::string& host : t.remove_members) {
    Json member = And({{"tvd", t.tvd}, {"host", host}});
    RemoveMemberOps(member, ops);
    // The departure row says why; without one, none is left from an
    // earlier removal to say something else.
    ops.push_back(ov::Delete("Departure", member));
    if (t.departure) {
      ops.push_back(ov::Insert(
          "Departure", {{"tvd", t.tvd},
                        {"host", host},
                        {"change", t.departure->left ? "left" : "evicted"},
                        {"reason", t.departure->reason}}));
    }
  }
  // Kept when present: delete and insert again in one transaction. A
  // departure row of an earlier removal stays: it is only ever read with
  // the removal that wrote it, which replaces it.
  for (const std::string& host : t.add_members) {
    for (Json& op : AddMember(t.tvd, host, now)) ops.push_back(std::move(op));
  }
  return ops;
}

Json Host(const std::string& host, const std::string& underlay) {
  return Replace("Host", And({{"name", host}}),
                 {{"name", host}, {"underlay", underlay}});
}

Json Attestation(const std::string& host, bool ok, const std::string& reason,
                 std::int64_t at) {
  return Replace(
      "Attestation", And({{"host", host}}),
      {{"host", host}, {"attested", ok}, {"reason", reason}, {"at", at}});
}

Json AddAk(const std::string& host, const std::vector<std::uint8_t>& ak) {
  const std::string hex = rows::Hex(ak);
  return Replace("AK", And({{"host", host}, {"ak_hex", hex}}),
                 {{"host", host}, {"ak_hex", hex}});
}

Json AddMember(const std::string& tvd, const std::string& host,
               std::int64_t now) {
  return Replace("Membership", And({{"tvd", tvd}, {"host", host}}),
                 {{"tvd", tvd}, {"host", host}, {"since", now}});
}

Json RemoveMember(const std::string& tvd, const std::string& host) {
  Json ops = Json::array();
  RemoveMemberOps(And({{"tvd", tvd}, {"host", host}}), ops);
  return ops;
}

Json SetVm(const std::string& tvd, const std::string& host,
           const std::string& vm, bool attached, const std::string& uuid) {
  if (attached) {
    return Replace("VM", And({{"tvd", tvd}, {"vm", vm}}),
                   {{"tvd", tvd}, {"host", host}, {"vm", vm}, {"uuid", uuid}});
  }
  // The VM's vTPM on that host goes with it (the host wiped its state).
  Json w = And({{"tvd", tvd}, {"host", host}, {"vm", vm}});
  return Json::array({ov::Delete("VM", w), ov::Delete("Vtpm", w)});
}

Json PutQuotaUsage(const QuotaUsageRow& r) {
  return Replace("Quota_Usage", And({{"tvd", r.tvd}, {"host", r.host}}),
                 {{"tvd", r.tvd},
                  {"host", r.host},
                  {"domains", Clamped(r.amounts.domains)},
                  {"vcpus", Clamped(r.amounts.vcpus)},
                  {"memory_kib", Clamped(r.amounts.memory_kib)},
                  {"disk_bytes", Clamped(r.amounts.disk_bytes)}});
}

Json PutAkClock(const AkClockRow& row, const std::optional<AkClockRow>& seen,
                std::int64_t now) {
  const std::string name = rows::Hex(row.ak_name);
  Json key = And({{"ak_name_hex", name}});
  Json values = {
      {"reset_count", static_cast<std::int64_t>(row.reset_count)},
      {"restart_count", static_cast<std::int64_t>(row.restart_count)},
      {"clock", static_cast<std::int64_t>(row.clock)},
      {"at", now}};
  if (!seen) {
    values["ak_name_hex"] = name;
    return Json::array({Wait("AK_Clock", key, {"ak_name_hex"}, Json::array()),
                        ov::Insert("AK_Clock", std::move(values))});
  }
  Json before = {
      {"reset_count", static_cast<std::int64_t>(seen->reset_count)},
      {"restart_count", static_cast<std::int64_t>(seen->restart_count)},
      {"clock", static_cast<std::int64_t>(seen->clock)}};
  return Json::array(
      {Wait("AK_Clock", key, {"reset_count", "restart_count", "clock"},
            Json::array({std::move(before)})),
       ov::Update("AK_Clock", key, std::move(values))});
}

Json InsertAudit(std::int64_t id, const std::string& token, std::int64_t at,
                 const std::string& actor, const std::string& action,
                 const std::string& subject, bool allowed,
                 const std::string& reason) {
  return ov::Insert("Audit", {{"id", id},
                              {"token", token},
                              {"at", at},
                              {"actor", actor},
                              {"action", action},
                              {"subject", subject},
                              {"allowed", allowed},
                              {"reason", reason}});
}

}  // namespace tvd::master::ovsdb_ops
