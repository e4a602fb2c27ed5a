// What a replica knows of the rows other masters write: a copy of the
// store's TVD, Membership and Host tables kept from an OVSDB monitor's
// updates (RFC 7047 <table-updates>), and for each update the change it
// brings, in the terms the registry applies (TvdRegistry::ApplyStored,
// ApplyStoredJoins, ApplyStoredHost).
//
// Pure: no I/O, no threads. An update that does not decode changes nothing
// and is an error (ProtocolError "store monitor: <table> row <uuid>: ...");
// the watcher then starts over with a new monitor (initial contents).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tvd/master/state_store.h"
#include "tvd/status.h"

namespace tvd::master {

struct StoreChange {
  // TVDs whose row came, changed or went (nullopt), with all their members
  // as stored now, and why members went: the Departure rows this update
  // brought (a removal writes its row in the same transaction), host ->
  // departure.
  struct Tvd {
    std::optional<TvdRow> row;
    std::vector<std::string> members;
    std::map<std::string, Departure> departures;
  };
  std::map<std::string, Tvd> tvds;
  // Members that came to a TVD whose row did not change (joins), with the
  // token the row has.
  struct Joins {
    std::string token;
    std::vector<std::string> hosts;
  };
  std::map<std::string, Joins> joins;
  // Hosts whose underlay address came or changed.
  std::vector<std::pair<std::string, std::string>> underlays;

  bool empty() const {
    return tvds.empty() && joins.empty() && underlays.empty();
  }
};

class StoreMirror {
 public:
  // The tables and columns to monitor (the "requests" of RFC 7047 4.1.5).
  static nlohmann::json MonitorRequests();

  // Applies one update. `initial`: the monitor's first reply, which
  // replaces everything known (after a reconnect): every TVD counts as
  // changed, so the registry compares each with its own.
  StatusOr<StoreChange> Apply(const nlohmann::json& table_updates,
                              bool initial);

  std::size_t tvd_count() const { return tvd_by_uuid_.size(); }
  std::size_t membership_count() const { return member_by_uuid_.size(); }

 private:
  std::vector<std::string> MembersOf(const std::string& tvd) const;

  std::map<std::string, TvdRow> tvd_by_uuid_;
  std::map<std::string, std::pair<std::string, std::string>> member_by_uuid_;
  std::map<std::string, std::set<std::string>> members_;  // tvd -> hosts
  std::map<std::string, std::string> underlay_by_uuid_host_;
};

}  // namespace tvd::master
