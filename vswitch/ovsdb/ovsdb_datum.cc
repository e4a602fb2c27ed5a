#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

#include <limits>
#include <utility>

namespace tvd::vswitch::ovsdb {

Json Uuid(const std::string& uuid) { return Json::array({"uuid", uuid}); }
Json NamedUuid(const std::string& name) {
  return Json::array({"named-uuid", name});
}
Json Set(std::vector<Json> atoms) {
  return Json::array({"set", Json(std::move(atoms))});
}
Json EmptySet() { return Json::array({"set", Json::array()}); }

Json StringMap(const std::map<std::string, std::string>& map) {
  Json pairs = Json::array();
  for (const auto& [k, v] : map) pairs.push_back(Json::array({k, v}));
  return Json::array({"map", pairs});
}

namespace {
bool IsTagged(const Json& datum, const char* tag) {
  return datum.is_array() && datum.size() == 2 && datum[0].is_string() &&
         datum[0].get_ref<const std::string&>() == tag;
}
}  // namespace

StatusOr<std::string> ParseUuid(const Json& datum) {
  if (!IsTagged(datum, "uuid") || !datum[1].is_string()) {
    return InvalidArgument(
        "expected [\"uuid\", <string>], got " +
        datum.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return datum[1].get<std::string>();
}

StatusOr<std::vector<Json>> ParseSet(const Json& datum) {
  if (IsTagged(datum, "set")) {
    if (!datum[1].is_array()) {
      return InvalidArgument("[\"set\", ...] whose elements are not an array");
    }
    return datum[1].get<std::vector<Json>>();
  }
  if (datum.is_array() && !IsTagged(datum, "uuid") &&
      !IsTagged(datum, "named-uuid")) {
    return InvalidArgument("expected an atom or [\"set\", [...]]");
  }
  return std::vector<Json>{datum};
}

StatusOr<std::map<std::string, std::string>> ParseStringMap(const Json& datum) {
  if (!IsTagged(datum, "map") || !datum[1].is_array()) {
    return InvalidArgument("expected [\"map\", [[k, v], ...]]");
  }
  std::map<std::string, std::string> out;
  for (const Json& pair : datum[1]) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() ||
        !pair[1].is_string()) {
      return InvalidArgument("map entry is not a [string, string] pair");
    }
    out[pair[0].get<std::string>()] = pair[1].get<std::string>();
  }
  return out;
}

StatusOr<std::optional<std::int64_t>> ParseOptionalInteger(const Json& datum) {
  if (datum.is_number_integer()) {
    if (datum.is_number_unsigned() &&
        datum.get<std::uint64_t>() >
            static_cast<std::uint64_t>(
                std::numeric_limits<std::int64_t>::max())) {
      return InvalidArgument("integer out of range");
    }
    return std::optional<std::int64_t>(datum.get<std::int64_t>());
  }
  if (IsTagged(datum, "set") && datum[1].is_array()) {
    if (datum[1].empty()) return std::optional<std::int64_t>();
    if (datum[1].size() == 1) return ParseOptionalInteger(datum[1][0]);
  }
  return InvalidArgument("expected an integer or an empty set");
}

Json Where(const std::string& column, const std::string& function,
           const Json& value) {
  return Json::array({Json::array({column, function, value})});
}
Json WhereAll() { return Json::array(); }

Json Insert(const std::string& table, Json row, const std::string& uuid_name) {
  Json op = {{"op", "insert"}, {"table", table}, {"row", std::move(row)}};
  if (!uuid_name.empty()) op["uuid-name"] = uuid_name;
  return op;
}
Json Update(const std::string& table, Json where, Json row) {
  return {{"op", "update"},
          {"table", table},
          {"where", std::move(where)},
          {"row", std::move(row)}};
}
Json Mutate(const std::string& table, Json where, Json mutations) {
  return {{"op", "mutate"},
          {"table", table},
          {"where", std::move(where)},
          {"mutations", std::move(mutations)}};
}
Json Delete(const std::string& table, Json where) {
  return {{"op", "delete"}, {"table", table}, {"where", std::move(where)}};
}
Json Select(const std::string& table, Json where,
            std::vector<std::string> columns) {
  return {{"op", "select"},
          {"table", table},
          {"where", std::move(where)},
          {"columns", std::move(columns)}};
}
Json Comment(const std::string& text) {
  return {{"op", "comment"}, {"comment", text}};
}

}  // namespace tvd::vswitch::ovsdb
