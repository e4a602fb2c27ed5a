#include "tvd/vswitch/network/ovsdb_vswitch_database.h"

#include <map>

#include "tvd/vswitch/network/ovsdb_rows.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::vswitch {
namespace {

namespace db = ovsdb;

constexpr char kDatabase[] = "Open_vSwitch";

Json OptionalTag(const std::optional<std::uint16_t>& tag) {
  return tag ? Json(*tag) : db::EmptySet();
}

Json OptionalString(const std::string& s) {
  return s.empty() ? db::EmptySet() : Json(s);
}

Json StringSet(const std::set<std::string>& values) {
  return db::Set(std::vector<Json>(values.begin(), values.end()));
}

}  // namespace

StatusOr<db::Snapshot> OvsdbVswitchDatabase::Read(const std::string& bridge) {
  TVD_ASSIGN_OR_RETURN(Json results,
                       client_.Transact(kDatabase, db::SnapshotQuery(bridge)));
  return db::ParseSnapshot(results);
}

StatusOr<BridgeState> OvsdbVswitchDatabase::ReadBridge(
    const std::string& bridge) {
  TVD_ASSIGN_OR_RETURN(db::Snapshot snap, Read(bridge));
  if (snap.bridge_uuid.empty()) return NotFound("no bridge " + bridge);
  return snap.State();
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
                  db::kPortColumns)});
  TVD_ASSIGN_OR_RETURN(Json results, client_.Transact(kDatabase, ops));
  TVD_ASSIGN_OR_RETURN(Json bridges, db::SelectRows(results, 0));
  if (bridges.empty()) return NotFound("no bridge " + bridge);
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> on_bridge,
                       db::ParseUuidSetColumn(bridges[0], "Bridge", "ports"));
  std::set<std::string> wanted(on_bridge.begin(), on_bridge.end());
  TVD_ASSIGN_OR_RETURN(Json ports, db::SelectRows(results, 1));
  std::map<std::string, PortRow> found;
  for (const Json& p : ports) {
    TVD_ASSIGN_OR_RETURN(std::string uuid, db::ParseRowUuid(p, "Port"));
    if (wanted.count(uuid) == 0) continue;
    TVD_ASSIGN_OR_RETURN(PortRow row, db::ParsePortRow(p));
    found[row.name] = std::move(row);
  }
  std::vector<PortRow> out;
  for (auto& [name, row] : found) out.push_back(std::move(row));
  return out;
}

StatusOr<InterfaceRow> OvsdbVswitchDatabase::GetInterface(
    const std::string& name) {
  Json ops = Json::array({db::Select("Interface", db::Where("name", "==", name),
                                     db::kInterfaceColumns)});
  TVD_ASSIGN_OR_RETURN(Json results, client_.Transact(kDatabase, ops));
  TVD_ASSIGN_OR_RETURN(Json rows, db::SelectRows(results, 0));
  if (rows.empty()) return NotFound("no interface " + name);
  return db::ParseInterfaceRow(rows[0]);
}

StatusOr<bool> OvsdbVswitchDatabase::EnsureBridge(
    const BridgeRow& bridge, std::chrono::milliseconds apply_wait) {
  if (bridge.name.empty()) return InvalidArgument("bridge name is empty");
  TVD_ASSIGN_OR_RETURN(db::Snapshot snap, Read(bridge.name));
  Json ops = Json::array();
  bool create = snap.bridge_uuid.empty();
  if (create && snap.NameTaken(bridge.name)) {
    return AlreadyExists("port " + bridge.name + " already exists");
  }
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
    ops.push_back(db::Update(
        "Bridge", db::Where("_uuid", "==", db::Uuid(snap.bridge_uuid)),
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
  TVD_ASSIGN_OR_RETURN(db::Snapshot raw, Read(bridge));
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
