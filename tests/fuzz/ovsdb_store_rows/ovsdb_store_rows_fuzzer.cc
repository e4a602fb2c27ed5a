// Fuzzes the decoding of the master's state from OVSDB replies
// (ovsdb_store_rows.h) with any JSON an ovsdb-server could send: a transact
// reply whose results hold rows of every table, a _Server Database row, a
// schema. Every decoder must return a value or an error, never throw or
// crash; a decoded hex column must re-encode to the same text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tvd/master/ovsdb_store_rows.h"

namespace {

using tvd::master::ovsdb_rows::Json;
namespace rows = tvd::master::ovsdb_rows;

void DecodeAll(const Json& row) {
  (void)rows::DecodeTvd(row);
  (void)rows::DecodeAttestation(row);
  if (auto ak = rows::DecodeAk(row); ak.ok()) {
    if (rows::Hex(ak->second) != row["ak_hex"].get<std::string>()) {
      __builtin_trap();
    }
  }
  (void)rows::DecodeAkClock(row);
  (void)rows::DecodeMemberHost(row);
  if (auto d = rows::DecodeDeparture(row); d.ok()) {
    // Only the two kinds the schema allows decode.
    if (!d->second.left && row.value("change", "") != "evicted") {
      __builtin_trap();
    }
  }
  (void)rows::DecodeVm(row);
  if (auto key = rows::DecodeDiskKey(row); key.ok()) {
    if (rows::Hex(*key) != row["wrapped_hex"].get<std::string>()) {
      __builtin_trap();
    }
  }
  if (auto key = rows::DecodeVtpmKey(row); key.ok()) {
    if (rows::Hex(*key) != row["key_wrapped_hex"].get<std::string>()) {
      __builtin_trap();
    }
  }
  if (auto b = rows::DecodeVtpmBinding(row); b.ok()) {
    if (rows::Hex(b->ek_public) != row["ek_hex"].get<std::string>() ||
        rows::Hex(b->ak_public) != row["ak_hex"].get<std::string>()) {
      __builtin_trap();
    }
  }
  (void)rows::DecodeQuotaUsage(row);
  (void)rows::DecodeAudit(row);
  (void)rows::DecodeIdentity(row);
  (void)rows::DecodeServerDatabase(row);
  (void)rows::SchemaNameVersion(row);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  DecodeAll(j);
  for (std::size_t i = 0; i < 4; ++i) {
    auto selected = rows::SelectedRows(j, i, "fuzz");
    if (!selected.ok()) continue;
    for (const Json& r : *selected) DecodeAll(r);
  }
  return 0;
}
