#include "tvd/master/ovsdb_row_addresses.h"

#include <map>
#include <optional>
#include <set>

namespace tvd::master {
namespace {

using Json = nlohmann::json;

constexpr char kZeroUuid[] = "00000000-0000-0000-0000-000000000000";

const std::map<std::string, std::vector<std::string>>& Keys() {
  // As the indexes of tvd_master.ovsschema (a test compares them).
  static const auto* keys = new std::map<std::string, std::vector<std::string>>{
      {"Host", {"name"}},
      {"Attestation", {"host"}},
      {"AK", {"host", "ak_hex"}},
      {"AK_Clock", {"ak_name_hex"}},
      {"Membership", {"tvd", "host"}},
      {"Departure", {"tvd", "host"}},
      {"VM", {"tvd", "vm"}},
      {"Quota_Usage", {"tvd", "host"}}};
  return *keys;
}

std::string CacheKey(const std::string& table, const Json& values) {
  return table + '\n' + values.dump();
}

// The cache key of a where clause that names every key column of `table`
// with "==" and nothing else (a leading `_uuid` clause aside).
std::optional<std::string> KeyOfWhere(const std::string& table,
                                      const Json& where) {
  const std::vector<std::string>* key = OvsdbRowAddresses::KeyOf(table);
  if (key == nullptr || !where.is_array()) return std::nullopt;
  std::map<std::string, Json> eq;
  for (const Json& clause : where) {
    if (!clause.is_array() || clause.size() != 3 || !clause[0].is_string() ||
        clause[1] != "==") {
      return std::nullopt;
    }
    const std::string column = clause[0].get<std::string>();
    if (column == "_uuid") continue;
    if (!eq.emplace(column, clause[2]).second) return std::nullopt;
  }
  if (eq.size() != key->size()) return std::nullopt;
  Json values = Json::array();
  for (const std::string& column : *key) {
    auto it = eq.find(column);
    if (it == eq.end()) return std::nullopt;
    values.push_back(it->second);
  }
  return CacheKey(table, values);
}

std::optional<std::string> KeyOfRow(const std::string& table, const Json& row) {
  const std::vector<std::string>* key = OvsdbRowAddresses::KeyOf(table);
  if (key == nullptr || !row.is_object()) return std::nullopt;
  Json values = Json::array();
  for (const std::string& column : *key) {
    auto it = row.find(column);
    if (it == row.end()) return std::nullopt;
    values.push_back(*it);
  }
  return CacheKey(table, values);
}

std::string Str(const Json& op, const char* member) {
  auto it = op.find(member);
  return it != op.end() && it->is_string() ? it->get<std::string>() : "";
}

// The key an insert operation writes, if it is one on a keyed table.
std::optional<std::string> InsertKey(const Json& op) {
  if (!op.is_object() || Str(op, "op") != "insert") return std::nullopt;
  auto row = op.find("row");
  if (row == op.end()) return std::nullopt;
  return KeyOfRow(Str(op, "table"), *row);
}

std::optional<std::string> UuidOf(const Json& v) {
  if (v.is_array() && v.size() == 2 && v[0] == "uuid" && v[1].is_string()) {
    return v[1].get<std::string>();
  }
  return std::nullopt;
}

Json UuidIs(const Json& uuid) { return Json::array({"_uuid", "==", uuid}); }

// `where` with `_uuid == uuid` first (the server's direct lookup).
Json Prefixed(const Json& uuid, const Json& where) {
  Json out = Json::array({UuidIs(uuid)});
  for (const Json& clause : where) out.push_back(clause);
  return out;
}

}  // namespace

const std::vector<std::string>* OvsdbRowAddresses::KeyOf(
    const std::string& table) {
  auto it = Keys().find(table);
  return it == Keys().end() ? nullptr : &it->second;
}

std::vector<std::string> OvsdbRowAddresses::Tables() {
  std::vector<std::string> out;
  for (const auto& [table, key] : Keys()) out.push_back(table);
  return out;
}

OvsdbRowAddresses::Plan OvsdbRowAddresses::Address(const Json& ops) const {
  Plan plan;
  plan.ops = ops;
  if (!ops.is_array()) return plan;
  // Rows this transaction inserts, by key: a later operation on the same
  // key names the row by its name in the transaction (RFC 7047
  // "named-uuid"), which is certain.
  std::map<std::string, std::string> named;
  std::set<std::string> waited;  // keys a wait named by uuid
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    Json& op = plan.ops[i];
    if (!op.is_object()) continue;
    const std::string table = Str(op, "table");
    if (KeyOf(table) == nullptr) continue;
    const std::string name = Str(op, "op");
    if (name == "insert") {
      std::optional<std::string> key = InsertKey(op);
      if (!key) continue;
      if (!op.contains("uuid-name")) {
        op["uuid-name"] = "tvd_row" + std::to_string(i);
        plan.changed = true;
      }
      if (op["uuid-name"].is_string()) {
        named[*key] = op["uuid-name"].get<std::string>();
      }
      continue;
    }
    auto where = op.find("where");
    if (where == op.end()) continue;
    std::optional<std::string> key = KeyOfWhere(table, *where);
    if (!key) continue;
    // The row's uuid: named in this transaction, known, or neither.
    Json uuid;
    bool from_cache = false;
    if (auto n = named.find(*key); n != named.end()) {
      uuid = Json::array({"named-uuid", n->second});
    } else if (auto k = uuid_by_key_.find(*key); k != uuid_by_key_.end()) {
      uuid = Json::array({"uuid", k->second});
      from_cache = true;
    }
    const bool inserted_next =
        i + 1 < plan.ops.size() && Str(plan.ops[i + 1], "table") == table &&
        InsertKey(plan.ops[i + 1]) == key;
    auto rows = op.find("rows");
    const bool waits_for_none =
        rows != op.end() && rows->is_array() && rows->empty();
    if (name == "delete" && inserted_next) {
      *where = uuid.is_null() ? Json::array({UuidIs(Json::array({"uuid", kZeroUuid}))})
                              : Prefixed(uuid, *where);
    } else if (name == "wait" && waits_for_none && inserted_next) {
      *where = uuid.is_null() ? Json::array({UuidIs(Json::array({"uuid", kZeroUuid}))})
                              : Prefixed(uuid, *where);
    } else if (name == "wait" && !waits_for_none && !uuid.is_null()) {
      *where = Prefixed(uuid, *where);
      waited.insert(*key);
    } else if (name == "update" && !uuid.is_null() && waited.count(*key)) {
      *where = Prefixed(uuid, *where);
    } else {
      continue;
    }
    plan.changed = true;
    if (from_cache) plan.touched.push_back(*key);
  }
  return plan;
}

void OvsdbRowAddresses::Committed(const Json& ops, const Json& results) {
  if (!ops.is_array() || !results.is_array()) return;
  for (std::size_t i = 0; i < ops.size() && i < results.size(); ++i) {
    const Json& op = ops[i];
    if (!op.is_object()) continue;
    const std::string name = Str(op, "op");
    if (name == "insert") {
      std::optional<std::string> key = InsertKey(op);
      auto uuid =
          results[i].is_object() ? results[i].find("uuid") : results[i].end();
      if (!key || uuid == results[i].end()) continue;
      if (auto u = UuidOf(*uuid)) uuid_by_key_[*key] = *u;
    } else if (name == "delete") {
      auto where = op.find("where");
      if (where == op.end()) continue;
      if (auto key = KeyOfWhere(Str(op, "table"), *where)) {
        uuid_by_key_.erase(*key);
      }
    }
  }
}

void OvsdbRowAddresses::Failed(const Plan& plan) {
  for (const std::string& key : plan.touched) uuid_by_key_.erase(key);
}

void OvsdbRowAddresses::Learn(const std::string& table, const Json& row) {
  if (!row.is_object()) return;
  auto uuid = row.find("_uuid");
  std::optional<std::string> key = KeyOfRow(table, row);
  if (uuid == row.end() || !key) return;
  if (auto u = UuidOf(*uuid)) uuid_by_key_[*key] = *u;
}

}  // namespace tvd::master
