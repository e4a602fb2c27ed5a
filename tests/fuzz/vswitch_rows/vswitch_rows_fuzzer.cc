// Fuzzes the typed-row parsers of OvsdbVswitchDatabase (ovsdb_rows.h) with
// any JSON an ovsdb-server could send as the results of its reads: they must
// return a value or an error, never throw or crash, and a parsed snapshot
// must answer every question asked of it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tvd/vswitch/network/ovsdb_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::vswitch;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto snap = ovsdb::ParseSnapshot(j);
  if (snap.ok()) {
    BridgeState state = snap->State();
    for (const auto& [name, port] : state.ports) {
      (void)snap->PortOnBridge(name);
      (void)snap->NameTaken(name);
    }
    (void)snap->PortOnBridge("");
    (void)snap->NameTaken("tvx100");
  }
  auto rows = [](const Json& v) {
    (void)ovsdb::ParseBridgeRow(v);
    (void)ovsdb::ParsePortRow(v);
    (void)ovsdb::ParseInterfaceRow(v);
    (void)ovsdb::ParseRowUuid(v, "Port");
    (void)ovsdb::ParseUuidSetColumn(v, "Port", "interfaces");
  };
  rows(j);
  for (std::size_t i = 0; i < 3; ++i) {
    auto selected = ovsdb::SelectRows(j, i);
    if (!selected.ok()) continue;
    for (const Json& r : *selected) rows(r);
  }
  return 0;
}
