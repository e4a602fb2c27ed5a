// Building OVSDB operations and reading OVSDB data (RFC 7047 section 5.1),
// so callers never hand-write the ["map", [...]] / ["uuid", "..."] forms.
//
// The Parse* functions accept exactly the wire forms the RFC allows and
// return InvalidArgument naming what they expected otherwise; they never
// throw on a value of the wrong type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"

namespace tvd::vswitch::ovsdb {

// Atoms and data.
Json Uuid(const std::string& uuid);       // ["uuid", uuid]
Json NamedUuid(const std::string& name);  // ["named-uuid", name]
Json Set(std::vector<Json> atoms);        // ["set", [atoms...]]
Json StringMap(const std::map<std::string, std::string>& map);  // ["map",...]
Json EmptySet();                                                // ["set", []]

StatusOr<std::string> ParseUuid(const Json& datum);
// A set column: a bare atom (one element) or ["set", [...]].
StatusOr<std::vector<Json>> ParseSet(const Json& datum);
// A map column with string keys and string values.
StatusOr<std::map<std::string, std::string>> ParseStringMap(const Json& datum);
// An optional integer column (integer, or an empty set meaning none).
StatusOr<std::optional<std::int64_t>> ParseOptionalInteger(const Json& datum);

// Conditions: [[column, function, value]].
Json Where(const std::string& column, const std::string& function,
           const Json& value);
Json WhereAll();  // [] (every row)

// Operations.
Json Insert(const std::string& table, Json row,
            const std::string& uuid_name = "");
Json Update(const std::string& table, Json where, Json row);
Json Mutate(const std::string& table, Json where, Json mutations);
Json Delete(const std::string& table, Json where);
Json Select(const std::string& table, Json where,
            std::vector<std::string> columns);
Json Comment(const std::string& text);

}  // namespace tvd::vswitch::ovsdb
