#include "tvd/vswitch/ovsdb_vswitch_database.h"

#include <map>

#include "tvd/vswitch/ovsdb_datum.h"

namespace tvd::vswitch {
namespace {

namespace db = ovsdb;

constexpr char kDatabase[] = "Open_vSwitch";

// Rows of select result `i`, or ProtocolError.
StatusOr<Json> Rows(const Json& results, std::size_t i) {
  if (!results.is_array() || i >= results.size() || !results[i].is_object() ||
      !results[i].contains("rows") || !results[i]["rows"].is_array()) {
    return ProtocolError("OVSDB select result " + std::to_string(i) +
                         " has no rows");
  }
  return results[i]["rows"];
}

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
  StatusOr<std::vector<Json>> atoms = db::ParseSet(v);
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

StatusOr<std::vector<std::string>> UuidSetColumn(const Json& row,
                                                 const char* table,
                                                 const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<std::vector<Json>> atoms = db::ParseSet(v);
  if (!atoms.ok()) return BadColumn(table, column, atoms.status());
  std::vector<std::string> out;
  for (const Json& a : *atoms) {
    StatusOr<std::string> u = db::ParseUuid(a);
    if (!u.ok()) return BadColumn(table, column, u.status());
    out.push_back(*u);
  }
  return out;
}

StatusOr<std::string> UuidColumn(const Json& row, const char* table) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, "_uuid"));
  StatusOr<std::string> u = db::ParseUuid(v);
  if (!u.ok()) return BadColumn(table, "_uuid", u.status());
  return *u;
}

StatusOr<ExternalIds> MapColumn(const Json& row, const char* table,
                                const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<ExternalIds> m = db::ParseStringMap(v);
  if (!m.ok()) return BadColumn(table, column, m.status());
  return *m;
}

StatusOr<std::optional<std::int64_t>> OptionalIntColumn(const Json& row,
                                                        const char* table,
                                                        const char* column) {
  TVD_ASSIGN_OR_RETURN(Json v, Column(row, table, column));
  StatusOr<std::optional<std::int64_t>> i = db::ParseOptionalInteger(v);
  if (!i.ok()) return BadColumn(table, column, i.status());
  return *i;
}

StatusOr<PortRow> ParsePort(const Json& p) {
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

StatusOr<InterfaceRow> ParseInterface(const Json& i) {
  InterfaceRow row;
  TVD_ASSIGN_OR_RETURN(row.name, StringColumn(i, "Interface", "name"));
  TVD_ASSIGN_OR_RETURN(row.type, StringColumn(i, "Interface", "type"));
  TVD_ASSIGN_OR_RETURN(row.ofport, OptionalIntColumn(i, "Interface", "ofport"));
  TVD_ASSIGN_OR_RETURN(row.error,
                       OptionalStringColumn(i, "Interface", "error"));
  return row;
}

Json OptionalTag(const std::optional<std::uint16_t>& tag) {
  return tag ? Json(*tag) : db::EmptySet();
}

Json OptionalString(const std::string& s) {
  return s.empty() ? db::EmptySet() : Json(s);
}

Json StringSet(const std::set<std::string>& values) {
  return db::Set(std::vector<Json>(values.begin(), values.end()));
}

const std::vector<std::string> kPortColumns = {"_uuid", "name", "tag",
                                               "external_ids", "interfaces"};
const std::vector<std::string> kInterfaceColumns = {"_uuid", "name", "type",
                                                    "ofport", "error"};

}  // namespace

struct OvsdbVswitchDatabase::Raw {
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
  std::string PortOnBridge(const std::string& name) const {
    for (const std::string& u : bridge_ports) {
      auto it = ports.find(u);
      if (it != ports.end() && it->second.row.name == name) return u;
    }
    return "";
  }
  bool NameTaken(const std::string& name) const {
    for (const auto& [u, p] : ports) {
      if (p.row.name == name) return true;
    }
    for (const auto& [u, i] : interfaces) {
      if (i.name == name) return true;
    }
    return false;
  }
};

StatusOr<OvsdbVswitchDatabase::Raw> OvsdbVswitchDatabase::ReadRaw(
    const std::string& bridge) {
  Json ops =
      Json::array({db::Select("Bridge", db::Where("name", "==", bridge),
                              {"_uuid", "name", "datapath_type", "fail_mode",
                               "protocols", "external_ids", "ports"}),
                   db::Select("Port", db::WhereAll(), kPortColumns),
                   db::Select("Interface", db::WhereAll(), kInterfaceColumns)});
  TVD_ASSIGN_OR_RETURN(Json results, client_.Transact(kDatabase, ops));
  Raw raw;
  TVD_ASSIGN_OR_RETURN(Json bridges, Rows(results, 0));
  if (!bridges.empty()) {
    const Json& b = bridges[0];
    TVD_ASSIGN_OR_RETURN(raw.bridge_uuid, UuidColumn(b, "Bridge"));
    TVD_ASSIGN_OR_RETURN(raw.bridge.name, StringColumn(b, "Bridge", "name"));
    TVD_ASSIGN_OR_RETURN(raw.bridge.datapath_type,
                         StringColumn(b, "Bridge", "datapath_type"));
    TVD_ASSIGN_OR_RETURN(raw.bridge.fail_mode,
                         OptionalStringColumn(b, "Bridge", "fail_mode"));
    TVD_ASSIGN_OR_RETURN(std::vector<std::string> protocols,
                         StringSetColumn(b, "Bridge", "protocols"));
    raw.bridge.protocols = {protocols.begin(), protocols.end()};
    TVD_ASSIGN_OR_RETURN(raw.bridge.external_ids,
                         MapColumn(b, "Bridge", "external_ids"));
    TVD_ASSIGN_OR_RETURN(raw.bridge_ports, UuidSetColumn(b, "Bridge", "ports"));
  }
  TVD_ASSIGN_OR_RETURN(Json ports, Rows(results, 1));
  for (const Json& p : ports) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, UuidColumn(p, "Port"));
    Raw::Port port;
    TVD_ASSIGN_OR_RETURN(port.row, ParsePort(p));
    TVD_ASSIGN_OR_RETURN(port.interfaces,
                         UuidSetColumn(p, "Port", "interfaces"));
    raw.ports[uuid] = std::move(port);
  }
  TVD_ASSIGN_OR_RETURN(Json ifaces, Rows(results, 2));
  for (const Json& i : ifaces) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, UuidColumn(i, "Interface"));
    TVD_ASSIGN_OR_RETURN(raw.interfaces[uuid], ParseInterface(i));
  }
  return raw;
}

StatusOr<BridgeState> OvsdbVswitchDatabase::ReadBridge(
    const std::string& bridge) {
  TVD_ASSIGN_OR_RETURN(Raw raw, ReadRaw(bridge));
  if (raw.bridge_uuid.empty()) return NotFound("no bridge " + bridge);
  BridgeState state;
  state.bridge = raw.bridge;
  for (const std::string& pu : raw.bridge_ports) {
    auto port = raw.ports.find(pu);
    if (port == raw.ports.end()) continue;
    state.ports[port->second.row.name] = port->second.row;
    for (const std::string& iu : port->second.interfaces) {
      auto iface = raw.interfaces.find(iu);
      if (iface != raw.interfaces.end()) {
        state.interfaces[iface->second.name] = iface->second;
      }
    }
  }
  return state;
}

StatusOr<std::vector<PortRow>> OvsdbVswitchDatabase::FindPorts(
    const std::string& bridge, const ExternalIds& match) {
  // The filter runs in the server ("includes" on a map column); the bridge's
  // port set decides which of the matching rows are on this bridge.
  Json ops = Json::array(
      {db::Select("Bridge", db::Where("name", "==", bridge), {"ports"}),
       db::Select("Port",
                  match.empty() ? db::WhereAll()
                                : db::Where("external_ids", "includes",
                                            db::StringMap(match)),
                  kPortColumns)});
  TVD_ASSIGN_OR_RETURN(Json results, client_.Transact(kDatabase, ops));
  TVD_ASSIGN_OR_RETURN(Json bridges, Rows(results, 0));
  if (bridges.empty()) return NotFound("no bridge " + bridge);
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> on_bridge,
                       UuidSetColumn(bridges[0], "Bridge", "ports"));
  std::set<std::string> wanted(on_bridge.begin(), on_bridge.end());
  TVD_ASSIGN_OR_RETURN(Json ports, Rows(results, 1));
  std::map<std::string, PortRow> found;
  for (const Json& p : ports) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, UuidColumn(p, "Port"));
    if (wanted.count(uuid) == 0) continue;
    TVD_ASSIGN_OR_RETURN(PortRow row, ParsePort(p));
    found[row.name] = std::move(row);
  }
  std::vector<PortRow> out;
  for (auto& [name, row] : found) out.push_back(std::move(row));
  return out;
}

StatusOr<InterfaceRow> OvsdbVswitchDatabase::GetInterface(
    const std::string& name) {
  Json ops = Json::array({db::Select("Interface", db::Where("name", "==", name),
                                     kInterfaceColumns)});
  TVD_ASSIGN_OR_RETURN(Json results, client_.Transact(kDatabase, ops));
  TVD_ASSIGN_OR_RETURN(Json rows, Rows(results, 0));
  if (rows.empty()) return NotFound("no interface " + name);
  return ParseInterface(rows[0]);
}

StatusOr<bool> OvsdbVswitchDatabase::EnsureBridge(
    const BridgeRow& bridge, std::chrono::milliseconds apply_wait) {
  if (bridge.name.empty()) return InvalidArgument("bridge name is empty");
  Json select = Json::array(
      {db::Select("Bridge", db::Where("name", "==", bridge.name), {"_uuid"})});
  TVD_ASSIGN_OR_RETURN(Json results, client_.Transact(kDatabase, select));
  TVD_ASSIGN_OR_RETURN(Json rows, Rows(results, 0));
  Json ops = Json::array();
  bool create = rows.empty();
  if (create) {
    ops.push_back(db::Insert(
        "Interface", {{"name", bridge.name}, {"type", "internal"}}, "brif"));
    ops.push_back(db::Insert(
        "Port", {{"name", bridge.name}, {"interfaces", db::NamedUuid("brif")}},
        "brport"));
    ops.push_back(
        db::Insert("Bridge",
                   {{"name", bridge.name},
                    {"ports", db::NamedUuid("brport")},
                    {"datapath_type", bridge.datapath_type},
                    {"fail_mode", OptionalString(bridge.fail_mode)},
                    {"protocols", StringSet(bridge.protocols)},
                    {"external_ids", db::StringMap(bridge.external_ids)}},
                   "br"));
    ops.push_back(db::Mutate(
        "Open_vSwitch", db::WhereAll(),
        Json::array({Json::array(
            {"bridges", "insert", db::Set({db::NamedUuid("br")})})})));
  } else {
    TVD_ASSIGN_OR_RETURN(std::string uuid, UuidColumn(rows[0], "Bridge"));
    ops.push_back(db::Update("Bridge", db::Where("_uuid", "==", db::Uuid(uuid)),
                             {{"datapath_type", bridge.datapath_type},
                              {"fail_mode", OptionalString(bridge.fail_mode)},
                              {"protocols", StringSet(bridge.protocols)}}));
  }
  TVD_RETURN_IF_ERROR(client_.TransactAndWaitApplied(ops, apply_wait).status());
  return create;
}

Status OvsdbVswitchDatabase::Apply(const std::string& bridge,
                                   const BridgeChange& change,
                                   std::chrono::milliseconds apply_wait) {
  TVD_RETURN_IF_ERROR(ValidateBridgeChange(change));
  if (change.empty()) return Status::Ok();
  TVD_ASSIGN_OR_RETURN(Raw raw, ReadRaw(bridge));
  if (raw.bridge_uuid.empty()) return NotFound("no bridge " + bridge);
  std::vector<std::string> update_uuids;
  for (const PortRow& p : change.update_ports) {
    std::string u = raw.PortOnBridge(p.name);
    if (u.empty()) {
      return NotFound("no port " + p.name + " on bridge " + bridge);
    }
    update_uuids.push_back(u);
  }
  std::vector<Json> remove_uuids;
  for (const std::string& name : change.remove_ports) {
    std::string u = raw.PortOnBridge(name);
    if (u.empty()) return NotFound("no port " + name + " on bridge " + bridge);
    remove_uuids.push_back(db::Uuid(u));
  }
  for (const NewPort& p : change.add_ports) {
    if (raw.NameTaken(p.name)) {
      return AlreadyExists("port " + p.name + " already exists");
    }
  }

  Json ops = Json::array();
  for (std::size_t i = 0; i < change.update_ports.size(); ++i) {
    const PortRow& p = change.update_ports[i];
    ops.push_back(
        db::Update("Port", db::Where("_uuid", "==", db::Uuid(update_uuids[i])),
                   {{"tag", OptionalTag(p.tag)},
                    {"external_ids", db::StringMap(p.external_ids)}}));
  }
  std::vector<Json> added;
  for (std::size_t i = 0; i < change.add_ports.size(); ++i) {
    const NewPort& p = change.add_ports[i];
    std::string iface = "if" + std::to_string(i);
    std::string port = "port" + std::to_string(i);
    ops.push_back(db::Insert(
        "Interface", {{"name", p.name}, {"type", p.interface_type}}, iface));
    ops.push_back(db::Insert("Port",
                             {{"name", p.name},
                              {"tag", OptionalTag(p.tag)},
                              {"interfaces", db::NamedUuid(iface)},
                              {"external_ids", db::StringMap(p.external_ids)}},
                             port));
    added.push_back(db::NamedUuid(port));
  }
  // One mutation of the bridge, in this order: drop keys (those to remove,
  // and those to set, since a map "insert" keeps an existing key's value),
  // add keys, drop ports (their Port and Interface rows are not roots, so
  // OVSDB deletes them in this transaction), add ports.
  Json mutations = Json::array();
  std::vector<Json> drop_keys(change.remove_bridge_ids.begin(),
                              change.remove_bridge_ids.end());
  for (const auto& [key, value] : change.set_bridge_ids)
    drop_keys.push_back(key);
  if (!drop_keys.empty()) {
    mutations.push_back(
        Json::array({"external_ids", "delete", db::Set(drop_keys)}));
  }
  if (!change.set_bridge_ids.empty()) {
    mutations.push_back(Json::array(
        {"external_ids", "insert", db::StringMap(change.set_bridge_ids)}));
  }
  if (!remove_uuids.empty()) {
    mutations.push_back(
        Json::array({"ports", "delete", db::Set(remove_uuids)}));
  }
  if (!added.empty()) {
    mutations.push_back(Json::array({"ports", "insert", db::Set(added)}));
  }
  if (!mutations.empty()) {
    ops.push_back(db::Mutate(
        "Bridge", db::Where("_uuid", "==", db::Uuid(raw.bridge_uuid)),
        std::move(mutations)));
  }
  return client_.TransactAndWaitApplied(ops, apply_wait).status();
}

}  // namespace tvd::vswitch
