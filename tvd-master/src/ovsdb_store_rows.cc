#include "tvd/master/ovsdb_store_rows.h"

#include <limits>

#include "tvd/sha256.h"

namespace tvd::master::ovsdb_rows {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

Status Bad(std::string_view table, std::string_view column,
           std::string_view why) {
  return ProtocolError("OVSDB " + std::string(table) + " row: column '" +
                       std::string(column) + "' " + std::string(why));
}

StatusOr<const Json*> Column(const Json& row, std::string_view table,
                             std::string_view column) {
  if (!row.is_object()) {
    return ProtocolError("OVSDB " + std::string(table) +
                         " row is not a JSON object");
  }
  auto it = row.find(std::string(column));
  if (it == row.end()) return Bad(table, column, "is missing");
  return &*it;
}

StatusOr<std::string> Str(const Json& row, std::string_view table,
                          std::string_view column) {
  TVD_ASSIGN_OR_RETURN(const Json* v, Column(row, table, column));
  if (!v->is_string()) return Bad(table, column, "is not a string");
  return v->get<std::string>();
}

StatusOr<std::int64_t> Int(const Json& row, std::string_view table,
                           std::string_view column, std::int64_t min,
                           std::int64_t max) {
  TVD_ASSIGN_OR_RETURN(const Json* v, Column(row, table, column));
  std::string range = "is not an integer in " + std::to_string(min) + ".." +
                      std::to_string(max);
  if (v->is_number_unsigned()) {
    auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max)) return Bad(table, column, range);
    std::int64_t s = static_cast<std::int64_t>(u);
    if (s < min) return Bad(table, column, range);
    return s;
  }
  if (!v->is_number_integer()) return Bad(table, column, range);
  auto s = v->get<std::int64_t>();
  if (s < min || s > max) return Bad(table, column, range);
  return s;
}

StatusOr<bool> Bool(const Json& row, std::string_view table,
                    std::string_view column) {
  TVD_ASSIGN_OR_RETURN(const Json* v, Column(row, table, column));
  if (!v->is_boolean()) return Bad(table, column, "is not a boolean");
  return v->get<bool>();
}

StatusOr<std::vector<std::uint8_t>> HexColumn(const Json& row,
                                              std::string_view table,
                                              std::string_view column) {
  TVD_ASSIGN_OR_RETURN(std::string s, Str(row, table, column));
  auto bytes = FromHex(s);
  if (!bytes.ok()) return Bad(table, column, "is not hex");
  return std::move(*bytes);
}

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string Hex(const std::vector<std::uint8_t>& bytes) { return ToHex(bytes); }

StatusOr<std::vector<std::uint8_t>> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("odd number of hex digits");
  std::vector<std::uint8_t> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = Nibble(hex[i]);
    int lo = Nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("not a lower-case hex digit");
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

StatusOr<std::vector<Json>> SelectedRows(Json results, std::size_t i,
                                         std::string_view table) {
  std::string where = "OVSDB select of " + std::string(table) + ": ";
  if (!results.is_array() || results.size() <= i) {
    return ProtocolError(where + "no result at position " + std::to_string(i));
  }
  Json& r = results[i];
  if (!r.is_object()) return ProtocolError(where + "result is not an object");
  auto rows = r.find("rows");
  if (rows == r.end() || !rows->is_array()) {
    return ProtocolError(where + "result has no \"rows\" array");
  }
  std::vector<Json> out;
  out.reserve(rows->size());
  for (Json& row : *rows) {
    if (!row.is_object())
      return ProtocolError(where + "a row is not an object");
    out.push_back(std::move(row));
  }
  return out;
}

StatusOr<TvdRow> DecodeTvd(const Json& row) {
  TvdRow r;
  TVD_ASSIGN_OR_RETURN(r.name, Str(row, "TVD", "name"));
  TVD_ASSIGN_OR_RETURN(r.policy_xml, Str(row, "TVD", "policy_xml"));
  TVD_ASSIGN_OR_RETURN(r.digest_hex, Str(row, "TVD", "digest"));
  TVD_ASSIGN_OR_RETURN(std::int64_t epoch, Int(row, "TVD", "epoch", 0, kMax));
  r.epoch = static_cast<std::uint64_t>(epoch);
  TVD_ASSIGN_OR_RETURN(r.token, Str(row, "TVD", "token"));
  TVD_ASSIGN_OR_RETURN(r.key_wrapped, HexColumn(row, "TVD", "key_wrapped_hex"));
  return r;
}

StatusOr<HostRow> DecodeAttestation(const Json& row) {
  HostRow r;
  TVD_ASSIGN_OR_RETURN(r.name, Str(row, "Attestation", "host"));
  TVD_ASSIGN_OR_RETURN(r.attested, Bool(row, "Attestation", "attested"));
  TVD_ASSIGN_OR_RETURN(r.attestation_reason, Str(row, "Attestation", "reason"));
  TVD_ASSIGN_OR_RETURN(r.attested_at,
                       Int(row, "Attestation", "at",
                           std::numeric_limits<std::int64_t>::min(), kMax));
  return r;
}

StatusOr<std::pair<std::string, std::vector<std::uint8_t>>> DecodeAk(
    const Json& row) {
  TVD_ASSIGN_OR_RETURN(std::string host, Str(row, "AK", "host"));
  TVD_ASSIGN_OR_RETURN(auto ak, HexColumn(row, "AK", "ak_hex"));
  return std::pair{std::move(host), std::move(ak)};
}

StatusOr<AkClockRow> DecodeAkClock(const Json& row) {
  constexpr std::int64_t kU32 = 0xffffffffLL;
  AkClockRow r;
  TVD_ASSIGN_OR_RETURN(r.ak_name, HexColumn(row, "AK_Clock", "ak_name_hex"));
  TVD_ASSIGN_OR_RETURN(std::int64_t reset,
                       Int(row, "AK_Clock", "reset_count", 0, kU32));
  TVD_ASSIGN_OR_RETURN(std::int64_t restart,
                       Int(row, "AK_Clock", "restart_count", 0, kU32));
  TVD_ASSIGN_OR_RETURN(std::int64_t clock,
                       Int(row, "AK_Clock", "clock", 0, kMax));
  r.reset_count = static_cast<std::uint32_t>(reset);
  r.restart_count = static_cast<std::uint32_t>(restart);
  r.clock = static_cast<std::uint64_t>(clock);
  return r;
}

StatusOr<std::string> DecodeMemberHost(const Json& row) {
  return Str(row, "Membership", "host");
}

StatusOr<std::string> DecodeMemberTvd(const Json& row) {
  return Str(row, "Membership", "tvd");
}

StatusOr<std::pair<std::pair<std::string, std::string>, Departure>>
DecodeDeparture(const Json& row) {
  TVD_ASSIGN_OR_RETURN(std::string tvd, Str(row, "Departure", "tvd"));
  TVD_ASSIGN_OR_RETURN(std::string host, Str(row, "Departure", "host"));
  TVD_ASSIGN_OR_RETURN(std::string change, Str(row, "Departure", "change"));
  Departure d;
  if (change == "left") {
    d.left = true;
  } else if (change != "evicted") {
    return Bad("Departure", "change", "is neither \"left\" nor \"evicted\"");
  }
  TVD_ASSIGN_OR_RETURN(d.reason, Str(row, "Departure", "reason"));
  return std::make_pair(std::make_pair(std::move(tvd), std::move(host)),
                        std::move(d));
}

StatusOr<std::pair<std::string, std::string>> DecodeHostUnderlay(
    const Json& row) {
  TVD_ASSIGN_OR_RETURN(std::string name, Str(row, "Host", "name"));
  TVD_ASSIGN_OR_RETURN(std::string underlay, Str(row, "Host", "underlay"));
  return std::make_pair(std::move(name), std::move(underlay));
}

StatusOr<VmRow> DecodeVm(const Json& row) {
  VmRow r;
  TVD_ASSIGN_OR_RETURN(r.tvd, Str(row, "VM", "tvd"));
  TVD_ASSIGN_OR_RETURN(r.host, Str(row, "VM", "host"));
  TVD_ASSIGN_OR_RETURN(r.vm, Str(row, "VM", "vm"));
  TVD_ASSIGN_OR_RETURN(r.uuid, Str(row, "VM", "uuid"));
  return r;
}

StatusOr<std::vector<std::uint8_t>> DecodeDiskKey(const Json& row) {
  return HexColumn(row, "Disk_Key", "wrapped_hex");
}

StatusOr<std::vector<std::uint8_t>> DecodeVtpmKey(const Json& row) {
  return HexColumn(row, "Vtpm", "key_wrapped_hex");
}

StatusOr<VtpmBindingRow> DecodeVtpmBinding(const Json& row) {
  VtpmBindingRow r;
  TVD_ASSIGN_OR_RETURN(r.tvd, Str(row, "Vtpm", "tvd"));
  TVD_ASSIGN_OR_RETURN(r.vm, Str(row, "Vtpm", "vm"));
  TVD_ASSIGN_OR_RETURN(r.host, Str(row, "Vtpm", "host"));
  TVD_ASSIGN_OR_RETURN(r.ek_public, HexColumn(row, "Vtpm", "ek_hex"));
  TVD_ASSIGN_OR_RETURN(r.ak_public, HexColumn(row, "Vtpm", "ak_hex"));
  TVD_ASSIGN_OR_RETURN(r.created_at, Int(row, "Vtpm", "created_at", 0, kMax));
  return r;
}

StatusOr<QuotaUsageRow> DecodeQuotaUsage(const Json& row) {
  QuotaUsageRow r;
  TVD_ASSIGN_OR_RETURN(r.tvd, Str(row, "Quota_Usage", "tvd"));
  TVD_ASSIGN_OR_RETURN(r.host, Str(row, "Quota_Usage", "host"));
  std::uint64_t* fields[] = {&r.amounts.domains, &r.amounts.vcpus,
                             &r.amounts.memory_kib, &r.amounts.disk_bytes};
  const char* names[] = {"domains", "vcpus", "memory_kib", "disk_bytes"};
  for (int i = 0; i < 4; ++i) {
    TVD_ASSIGN_OR_RETURN(std::int64_t v,
                         Int(row, "Quota_Usage", names[i], 0, kMax));
    *fields[i] = static_cast<std::uint64_t>(v);
  }
  return r;
}

StatusOr<AuditRow> DecodeAudit(const Json& row) {
  AuditRow r;
  TVD_ASSIGN_OR_RETURN(r.id, Int(row, "Audit", "id", 1, kMax));
  TVD_ASSIGN_OR_RETURN(
      r.at,
      Int(row, "Audit", "at", std::numeric_limits<std::int64_t>::min(), kMax));
  TVD_ASSIGN_OR_RETURN(r.actor, Str(row, "Audit", "actor"));
  TVD_ASSIGN_OR_RETURN(r.action, Str(row, "Audit", "action"));
  TVD_ASSIGN_OR_RETURN(r.subject, Str(row, "Audit", "subject"));
  TVD_ASSIGN_OR_RETURN(r.allowed, Bool(row, "Audit", "allowed"));
  TVD_ASSIGN_OR_RETURN(r.reason, Str(row, "Audit", "reason"));
  return r;
}

StatusOr<StoreIdentity> DecodeIdentity(const Json& row) {
  StoreIdentity id;
  TVD_ASSIGN_OR_RETURN(id.kek_check, Str(row, "Store_Identity", "kek_check"));
  if (id.kek_check.size() != 64 || !FromHex(id.kek_check).ok()) {
    return Bad("Store_Identity", "kek_check", "is not 64 hex digits");
  }
  TVD_ASSIGN_OR_RETURN(id.audit_seq,
                       Int(row, "Store_Identity", "audit_seq", 0, kMax));
  return id;
}

StatusOr<ServerDatabase> DecodeServerDatabase(const Json& row) {
  ServerDatabase d;
  TVD_ASSIGN_OR_RETURN(d.name, Str(row, "_Server Database", "name"));
  TVD_ASSIGN_OR_RETURN(d.model, Str(row, "_Server Database", "model"));
  TVD_ASSIGN_OR_RETURN(d.connected, Bool(row, "_Server Database", "connected"));
  TVD_ASSIGN_OR_RETURN(d.leader, Bool(row, "_Server Database", "leader"));
  return d;
}

StatusOr<std::pair<std::string, std::string>> SchemaNameVersion(
    const Json& schema) {
  TVD_ASSIGN_OR_RETURN(std::string name, Str(schema, "schema", "name"));
  TVD_ASSIGN_OR_RETURN(std::string version, Str(schema, "schema", "version"));
  return std::pair{std::move(name), std::move(version)};
}

}  // namespace tvd::master::ovsdb_rows
