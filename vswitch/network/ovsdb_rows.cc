#include "tvd/vswitch/network/ovsdb_rows.h"

#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::vswitch::ovsdb {
namespace {

// Column `column` of an OVSDB `table` row, or ProtocolError naming both.
StatusOr<Json> Column(const Json& row, const char* table, const char* column) {
  if (!row.is_object() || !row.contains(column)) {
    return ProtocolError(std::string("OVSDB ") + table + " row lacks column " +
                         column);
  }
  return row[column];
}

Status BadColumn(const char* table, const char* column, const Status& why) {
  return ProtocolError(std::string("OVSDB ") + table + " column " + column +
                       ": " + why.message());
}

StatusOr<std::string> StringColumn(const Json& row, const char* table,
                                   const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  if (!v.is_string()) {
    return BadColumn(table, column, InvalidArgument("expected a string"));
  }
  return v.get<std::string>();
}

// A set of strings, or an optional string column (empty set: none).
StatusOr<std::vector<std::string>> StringSetColumn(const Json& row,
                                                   const char* table,
                                                   const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<std::vector<Json>> atoms = ParseSet(v);
  if (!atoms.ok()) return BadColumn(table, column, atoms.status());
  std::vector<std::string> out;
  for (const Json& a : *atoms) {
    if (!a.is_string()) {
      return BadColumn(table, column, InvalidArgument("expected strings"));
    }
    out.push_back(a.get<std::string>());
  }
  return out;
}

StatusOr<std::string> OptionalStringColumn(const Json& row, const char* table,
                                           const char* column) {
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> v,
                       StringSetColumn(row, table, column));
  if (v.size() > 1) {
    return BadColumn(table, column, InvalidArgument("more than one value"));
  }
  return v.empty() ? std::string() : v[0];
}

StatusOr<ExternalIds> MapColumn(const Json& row, const char* table,
                                const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<ExternalIds> m = ParseStringMap(v);
  if (!m.ok()) return BadColumn(table, column, m.status());
  return *m;
}

StatusOr<std::optional<std::int64_t>> OptionalIntColumn(const Json& row,
                                                        const char* table,
                                                        const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<std::optional<std::int64_t>> i = ParseOptionalInteger(v);
  if (!i.ok()) return BadColumn(table, column, i.status());
  return *i;
}

}  // namespace

const std::vector<std::string> kPortColumns = {"_uuid", "name", "tag",
                                               "external_ids", "interfaces"};
const std::vector<std::string> kInterfaceColumns = {"_uuid", "name", "type",
                                                    "ofport", "error"};

StatusOr<Json> SelectRows(const Json& results, std::size_t i) {
  if (!results.is_array() || i >= results.size() || !results[i].is_object() ||
      !results[i].contains("rows") || !results[i]["rows"].is_array()) {
    return ProtocolError("OVSDB select result " + std::to_string(i) +
                         " has no rows");
  }
  return results[i]["rows"];
}

StatusOr<std::vector<std::string>> ParseUuidSetColumn(const Json& row,
                                                      const char* table,
                                                      const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<std::vector<Json>> atoms = ParseSet(v);
  if (!atoms.ok()) return BadColumn(table, column, atoms.status());
  std::vector<std::string> out;
  for (const Json& a : *atoms) {
    StatusOr<std::string> u = ParseUuid(a);
    if (!u.ok()) return BadColumn(table, column, u.status());
    out.push_back(*u);
  }
  return out;
}

StatusOr<std::string> ParseRowUuid(const Json& row, const char* table) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, "_uuid"));
  StatusOr<std::string> u = ParseUuid(v);
  if (!u.ok()) return BadColumn(table, "_uuid", u.status());
  return *u;
}

StatusOr<PortRow> ParsePortRow(const Json& p) {
  PortRow row;
  TVD_ASSIGN_OR_RETURN(row.name, StringColumn(p, "Port", "name"));
  TVD_ASSIGN_OR_RETURN(std::optional<std::int64_t> tag,
                       OptionalIntColumn(p, "Port", "tag"));
  if (tag) {
    if (*tag < 0 || *tag > 4095) {
      return BadColumn("Port", "tag", InvalidArgument("not in 0..4095"));
    }
    row.tag = static_cast<std::uint16_t>(*tag);
  }
  TVD_ASSIGN_OR_RETURN(row.external_ids, MapColumn(p, "Port", "external_ids"));
  return row;
}

StatusOr<InterfaceRow> ParseInterfaceRow(const Json& i) {
  InterfaceRow row;
  TVD_ASSIGN_OR_RETURN(row.name, StringColumn(i, "Interface", "name"));
  TVD_ASSIGN_OR_RETURN(row.type, StringColumn(i, "Interface", "type"));
  TVD_ASSIGN_OR_RETURN(row.ofport, OptionalIntColumn(i, "Interface", "ofport"));
  TVD_ASSIGN_OR_RETURN(row.error,
                       OptionalStringColumn(i, "Interface", "error"));
  return row;
}

StatusOr<BridgeRow> ParseBridgeRow(const Json& b) {
  BridgeRow row;
  TVD_ASSIGN_OR_RETURN(row.name, StringColumn(b, "Bridge", "name"));
  TVD_ASSIGN_OR_RETURN(row.datapath_type,
                       StringColumn(b, "Bridge", "datapath_type"));
  TVD_ASSIGN_OR_RETURN(row.fail_mode,
                       OptionalStringColumn(b, "Bridge", "fail_mode"));
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> protocols,
                       StringSetColumn(b, "Bridge", "protocols"));
  row.protocols = {protocols.begin(), protocols.end()};
  TVD_ASSIGN_OR_RETURN(row.external_ids,
                       MapColumn(b, "Bridge", "external_ids"));
  return row;
}

Json SnapshotQuery(const std::string& bridge) {
  return Json::array({Select("Bridge", Where("name", "==", bridge),
                             {"_uuid", "name", "datapath_type", "fail_mode",
                              "protocols", "external_ids", "ports"}),
                      Select("Port", WhereAll(), kPortColumns),
                      Select("Interface", WhereAll(), kInterfaceColumns)});
}

StatusOr<Snapshot> ParseSnapshot(const Json& results) {
  Snapshot snap;
  TVD_ASSIGN_OR_RETURN(Json bridges, SelectRows(results, 0));
  if (!bridges.empty()) {
    const Json& b = bridges[0];
    TVD_ASSIGN_OR_RETURN(snap.bridge_uuid, ParseRowUuid(b, "Bridge"));
    TVD_ASSIGN_OR_RETURN(snap.bridge, ParseBridgeRow(b));
    TVD_ASSIGN_OR_RETURN(snap.bridge_ports,
                         ParseUuidSetColumn(b, "Bridge", "ports"));
  }
  TVD_ASSIGN_OR_RETURN(Json ports, SelectRows(results, 1));
  for (const Json& p : ports) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, ParseRowUuid(p, "Port"));
    Snapshot::Port port;
    TVD_ASSIGN_OR_RETURN(port.row, ParsePortRow(p));
    TVD_ASSIGN_OR_RETURN(port.interfaces,
                         ParseUuidSetColumn(p, "Port", "interfaces"));
    snap.ports[uuid] = std::move(port);
  }
  TVD_ASSIGN_OR_RETURN(Json ifaces, SelectRows(results, 2));
  for (const Json& i : ifaces) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, ParseRowUuid(i, "Interface"));
    TVD_ASSIGN_OR_RETURN(snap.interfaces[uuid], ParseInterfaceRow(i));
  }
  return snap;
}

std::string Snapshot::PortOnBridge(const std::string& name) const {
  for (const std::string& u : bridge_ports) {
    auto it = ports.find(u);
    if (it != ports.end() && it->second.row.name == name) return u;
  }
  return "";
}

bool Snapshot::NameTaken(const std::string& name) const {
  for (const auto& [u, p] : ports) {
    if (p.row.name == name) return true;
  }
  for (const auto& [u, i] : interfaces) {
    if (i.name == name) return true;
  }
  return false;
}

BridgeState Snapshot::State() const {
  BridgeState state;
  state.bridge = bridge;
  for (const std::string& pu : bridge_ports) {
    auto port = ports.find(pu);
    if (port == ports.end()) continue;
    state.ports[port->second.row.name] = port->second.row;
    for (const std::string& iu : port->second.interfaces) {
      auto iface = interfaces.find(iu);
      if (iface != interfaces.end()) {
        state.interfaces[iface->second.name] = iface->second;
      }
    }
  }
  return state;
}

}  // namespace tvd::vswitch::ovsdb
