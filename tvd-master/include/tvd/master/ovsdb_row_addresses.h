// Where the OVSDB store's rows are, so that a write finds its row in O(1).
//
// The ovsdb-server of Debian 12 (Open vSwitch 3.1) evaluates a `where`
// clause by scanning the whole table, indexed columns or not; only a
// clause `_uuid == U` is a direct lookup. Every write of the store replaces
// its row by its natural key (ovsdb_store_ops.h), so with 10,000 hosts each
// join made the Raft leader scan several 10,000-row tables, and the time
// per join grew with the number of hosts (measured: a replace of one row
// takes 0.22 ms in a 1,000-row table, 1.3 ms at 20,000 rows and 11 ms at
// 60,000; addressed by _uuid, 0.28 ms at 60,000).
//
// OvsdbRowAddresses keeps the _uuid of each per-host row this master wrote
// or read (table and key -> uuid) and rewrites a transaction's operations
// before they are sent, keeping their number and order. A row's uuid is
// its name in the transaction ("named-uuid", RFC 7047) when an earlier
// insert of the same transaction wrote it (every insert is given a
// "uuid-name"), else the one known, else none:
//   - a delete by key followed by the insert of the same key (a replace),
//     and a wait by key for no row followed by the insert: the uuid first
//     (and still the key); without one the row is taken to be absent and
//     the operation names an all-zero uuid, which matches nothing;
//   - a wait by key for a row, and an update by the same key after it:
//     both name the uuid when there is one.
// A guess that was wrong never writes the wrong thing: a row that exists
// after all makes the insert break the key's index (a constraint
// violation: nothing written), and a row that moved makes the wait fail.
// The store then forgets the keys the transaction used (Failed) and sends
// the operations as they were (safe to apply twice, by key).
//
// Pure: no I/O, no locking (the store's mutex guards it).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace tvd::master {

class OvsdbRowAddresses {
 public:
  struct Plan {
    nlohmann::json ops;                // the operations to send
    bool changed = false;              // ops differ from the originals
    std::vector<std::string> touched;  // keys whose known uuid ops name
  };

  // The per-host tables and their key columns (the schema's index).
  static const std::vector<std::string>* KeyOf(const std::string& table);
  // Every table KeyOf knows.
  static std::vector<std::string> Tables();

  Plan Address(const nlohmann::json& ops) const;
  // `ops` (as sent) committed with `results`: inserts are learned (their
  // uuid is in the result), rows deleted by key forgotten.
  void Committed(const nlohmann::json& ops, const nlohmann::json& results);
  // A transaction sent with `plan` did not commit.
  void Failed(const Plan& plan);
  // A row of `table` read from the store (a select with `_uuid` and the
  // key columns); rows that do not have them are left out.
  void Learn(const std::string& table, const nlohmann::json& row);

  std::size_t size() const { return uuid_by_key_.size(); }

 private:
  std::unordered_map<std::string, std::string> uuid_by_key_;
};

}  // namespace tvd::master
