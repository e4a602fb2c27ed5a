// Typed rows from OVSDB select results (RFC 7047): the parsing half of
// OvsdbVswitchDatabase, kept pure (no I/O) so it can be fuzzed.
//
// Every function accepts exactly the wire forms RFC 7047 allows for the
// Open_vSwitch columns it reads and returns ProtocolError "OVSDB <table>
// ..." naming the table and column otherwise; none throws or crashes on
// any JSON value.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/network/vswitch_database.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"

namespace tvd::vswitch::ovsdb {

// One read of a bridge, every Port and every Interface, with their UUIDs.
struct Snapshot {
  struct Port {
    PortRow row;
    std::vector<std::string> interfaces;  // UUIDs
  };
  std::string bridge_uuid;  // empty: no such bridge
  BridgeRow bridge;
  std::vector<std::string> bridge_ports;           // UUIDs
  std::map<std::string, Port> ports;               // every port, by UUID
  std::map<std::string, InterfaceRow> interfaces;  // by UUID

  // UUID of the port named `name` on the bridge; empty when none.
  std::string PortOnBridge(const std::string& name) const;
  // Whether a port or an interface named `name` exists (on any bridge).
  bool NameTaken(const std::string& name) const;
  // The bridge, the ports on it and their interfaces, by name.
  BridgeState State() const;
};

// The select operations whose results ParseSnapshot reads.
Json SnapshotQuery(const std::string& bridge);
StatusOr<Snapshot> ParseSnapshot(const Json& results);

// Column lists the row parsers need, for select operations.
extern const std::vector<std::string> kPortColumns;
extern const std::vector<std::string> kInterfaceColumns;

// Rows of select result `i` of a transaction's results.
StatusOr<Json> SelectRows(const Json& results, std::size_t i);
StatusOr<std::string> ParseRowUuid(const Json& row, const char* table);
StatusOr<std::vector<std::string>> ParseUuidSetColumn(const Json& row,
                                                      const char* table,
                                                      const char* column);
StatusOr<PortRow> ParsePortRow(const Json& row);
StatusOr<InterfaceRow> ParseInterfaceRow(const Json& row);
StatusOr<BridgeRow> ParseBridgeRow(const Json& row);

}  // namespace tvd::vswitch::ovsdb
