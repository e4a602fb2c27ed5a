// Decoding the master's state from what an ovsdb-server sends (RFC 7047
// select results of the TVD_Master schema, tvd-master/tvd_master.ovsschema,
// and rows of its _Server database). The server is another process, so
// every value is checked: a missing column, a wrong type, an integer out of
// its range, a hex column that is not hex, each is a ProtocolError naming
// the table and the column, e.g.
//   "OVSDB TVD row: column 'epoch' is not an integer in 0..9223372036854775807"
// Nothing here throws or does I/O (the libFuzzer target ovsdb_store_rows
// feeds it arbitrary JSON).
//
// Byte blobs (AK public areas, AK names, wrapped disk keys) are stored as
// lower-case hex strings in columns whose names end in "_hex".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tvd/master/state_store.h"
#include "tvd/status.h"

namespace tvd::master::ovsdb_rows {

using Json = nlohmann::json;

// The rows of the select at position `i` of a transact reply `results`
// (which must be an array with at least i+1 objects, that one with a
// "rows" array of objects). `table` names it in errors. Taken by value:
// the rows are moved out, and a caller done with the reply moves it in
// (a reply may hold every host's row).
StatusOr<std::vector<Json>> SelectedRows(Json results, std::size_t i,
                                         std::string_view table);

StatusOr<TvdRow> DecodeTvd(const Json& row);
// An Attestation row: the host's name and its last verdict (no underlay:
// that is the Host row's).
StatusOr<HostRow> DecodeAttestation(const Json& row);
StatusOr<std::pair<std::string, std::vector<std::uint8_t>>> DecodeAk(
    const Json& row);
StatusOr<AkClockRow> DecodeAkClock(const Json& row);
// The host of a Membership row.
StatusOr<std::string> DecodeMemberHost(const Json& row);
// The TVD of a Membership row.
StatusOr<std::string> DecodeMemberTvd(const Json& row);
// The TVD and host of a Departure row, and why the host went.
StatusOr<std::pair<std::pair<std::string, std::string>, Departure>>
DecodeDeparture(const Json& row);
// The name and underlay address of a Host row.
StatusOr<std::pair<std::string, std::string>> DecodeHostUnderlay(
    const Json& row);
StatusOr<VmRow> DecodeVm(const Json& row);
// The wrapped key of a Disk_Key row.
StatusOr<std::vector<std::uint8_t>> DecodeDiskKey(const Json& row);
// The wrapped state key of a Vtpm row, and its binding (host empty while
// the host has not recorded the vTPM yet).
StatusOr<std::vector<std::uint8_t>> DecodeVtpmKey(const Json& row);
StatusOr<VtpmBindingRow> DecodeVtpmBinding(const Json& row);
StatusOr<QuotaUsageRow> DecodeQuotaUsage(const Json& row);
StatusOr<AuditRow> DecodeAudit(const Json& row);

// The one Store_Identity row.
struct StoreIdentity {
  std::string kek_check;       // 64 hex digits (kek_check.h)
  std::int64_t audit_seq = 0;  // id of the newest Audit row (0: none)
};
StatusOr<StoreIdentity> DecodeIdentity(const Json& row);

// A row of _Server's Database table (ovsdb-server(5)).
struct ServerDatabase {
  std::string name;
  std::string model;  // "standalone", "clustered" or "relay"
  bool connected = false;
  bool leader = false;
};
StatusOr<ServerDatabase> DecodeServerDatabase(const Json& row);

// The "name" and "version" of a database schema (a get_schema reply).
StatusOr<std::pair<std::string, std::string>> SchemaNameVersion(
    const Json& schema);

// Lower-case hex of `bytes`, and the inverse (InvalidArgument on an odd
// length or a non-hex digit).
std::string Hex(const std::vector<std::uint8_t>& bytes);
StatusOr<std::vector<std::uint8_t>> FromHex(std::string_view hex);

}  // namespace tvd::master::ovsdb_rows
