#include "tvd/master/store_mirror.h"

#include "tvd/master/ovsdb_store_rows.h"

namespace tvd::master {
namespace {

using Json = nlohmann::json;
namespace rows = ovsdb_rows;

// The <table-update> of `table`, or an empty object.
StatusOr<const Json*> TableUpdate(const Json& updates, const char* table) {
  static const Json kEmpty = Json::object();
  auto it = updates.find(table);
  if (it == updates.end()) return &kEmpty;
  if (!it->is_object()) {
    return ProtocolError(std::string("store monitor: ") + table +
                         " update is not an object");
  }
  return &*it;
}

// The "old" or "new" row of one <row-update>, or nullptr.
StatusOr<const Json*> Part(const Json& update, const char* table,
                           const std::string& uuid, const char* which) {
  if (!update.is_object()) {
    return ProtocolError(std::string("store monitor: ") + table + " row " +
                         uuid + ": row update is not an object");
  }
  auto it = update.find(which);
  if (it == update.end()) return static_cast<const Json*>(nullptr);
  if (!it->is_object()) {
    return ProtocolError(std::string("store monitor: ") + table + " row " +
                         uuid + ": \"" + which + "\" is not an object");
  }
  return &*it;
}

Status Context(const Status& s, const char* table, const std::string& uuid) {
  return s.WithContext(std::string("store monitor: ") + table + " row " + uuid);
}

}  // namespace

Json StoreMirror::MonitorRequests() {
  return {{"TVD",
           {{"columns",
             {"name", "policy_xml", "digest", "epoch", "token",
              "key_wrapped_hex"}}}},
          {"Membership", {{"columns", {"tvd", "host"}}}},
          {"Departure", {{"columns", {"tvd", "host", "change", "reason"}}}},
          {"Host", {{"columns", {"name", "underlay"}}}}};
}

std::vector<std::string> StoreMirror::MembersOf(const std::string& tvd) const {
  auto it = members_.find(tvd);
  if (it == members_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

StatusOr<StoreChange> StoreMirror::Apply(const Json& updates, bool initial) {
  if (!updates.is_object()) {
    return ProtocolError("store monitor: update is not an object");
  }
  TVD_ASSIGN_OR_RETURN(const Json* tvd_updates, TableUpdate(updates, "TVD"));
  TVD_ASSIGN_OR_RETURN(const Json* member_updates,
                       TableUpdate(updates, "Membership"));
  TVD_ASSIGN_OR_RETURN(const Json* host_updates, TableUpdate(updates, "Host"));
  TVD_ASSIGN_OR_RETURN(const Json* departure_updates,
                       TableUpdate(updates, "Departure"));

  // Decode everything first, so an update that does not decode changes
  // nothing.
  std::map<std::string, std::optional<TvdRow>> tvd_rows;
  for (const auto& [uuid, u] : tvd_updates->items()) {
    TVD_ASSIGN_OR_RETURN(const Json* after, Part(u, "TVD", uuid, "new"));
    if (!after) {
      tvd_rows[uuid] = std::nullopt;
      continue;
    }
    auto row = rows::DecodeTvd(*after);
    if (!row.ok()) return Context(row.status(), "TVD", uuid);
    tvd_rows[uuid] = std::move(row).value();
  }
  std::map<std::string, std::optional<std::pair<std::string, std::string>>>
      member_rows;
  for (const auto& [uuid, u] : member_updates->items()) {
    TVD_ASSIGN_OR_RETURN(const Json* after, Part(u, "Membership", uuid, "new"));
    if (!after) {
      member_rows[uuid] = std::nullopt;
      continue;
    }
    auto tvd = rows::DecodeMemberTvd(*after);
    if (!tvd.ok()) return Context(tvd.status(), "Membership", uuid);
    auto host = rows::DecodeMemberHost(*after);
    if (!host.ok()) return Context(host.status(), "Membership", uuid);
    member_rows[uuid] = std::make_pair(*tvd, *host);
  }
  std::vector<std::pair<std::string, std::string>> hosts;
  for (const auto& [uuid, u] : host_updates->items()) {
    TVD_ASSIGN_OR_RETURN(const Json* after, Part(u, "Host", uuid, "new"));
    if (!after) continue;
    auto name = rows::DecodeHostUnderlay(*after);
    if (!name.ok()) return Context(name.status(), "Host", uuid);
    hosts.push_back(std::move(name).value());
  }

  // Only the rows that came matter: a departure is read with the removal
  // it came with, so no copy of the table is kept.
  std::map<std::string, std::map<std::string, Departure>> departures;
  for (const auto& [uuid, u] : departure_updates->items()) {
    TVD_ASSIGN_OR_RETURN(const Json* after, Part(u, "Departure", uuid, "new"));
    if (!after) continue;
    auto d = rows::DecodeDeparture(*after);
    if (!d.ok()) return Context(d.status(), "Departure", uuid);
    departures[d->first.first][d->first.second] = std::move(d->second);
  }

  StoreChange change;
  std::set<std::string> changed_tvds;
  if (initial) {
    for (const auto& [uuid, row] : tvd_by_uuid_) {
      changed_tvds.insert(row.name);
      change.tvds[row.name] = {};  // gone unless it is still there
    }
    tvd_by_uuid_.clear();
    member_by_uuid_.clear();
    members_.clear();
  }
  for (auto& [uuid, row] : tvd_rows) {
    auto known = tvd_by_uuid_.find(uuid);
    if (known != tvd_by_uuid_.end()) {
      changed_tvds.insert(known->second.name);
      if (!row) change.tvds[known->second.name] = {};
      tvd_by_uuid_.erase(known);
    }
    if (row) {
      changed_tvds.insert(row->name);
      tvd_by_uuid_[uuid] = *row;
    }
  }
  // Rows that went or changed first, then rows that came: a join that
  // keeps its membership deletes and inserts it in one transaction.
  std::set<std::pair<std::string, std::string>> went;
  for (auto& [uuid, m] : member_rows) {
    auto known = member_by_uuid_.find(uuid);
    if (known == member_by_uuid_.end()) continue;
    members_[known->second.first].erase(known->second.second);
    went.insert(known->second);
    member_by_uuid_.erase(known);
  }
  std::map<std::string, std::vector<std::string>> joined;
  for (auto& [uuid, m] : member_rows) {
    if (!m) continue;
    member_by_uuid_[uuid] = *m;
    if (members_[m->first].insert(m->second).second && !went.count(*m)) {
      joined[m->first].push_back(m->second);
    }
  }
  for (const auto& [uuid, row] : tvd_by_uuid_) {
    if (!changed_tvds.count(row.name)) continue;
    auto why = departures.find(row.name);
    change.tvds[row.name] = {row, MembersOf(row.name),
                             why == departures.end()
                                 ? std::map<std::string, Departure>{}
                                 : std::move(why->second)};
  }
  for (auto& [tvd, hosts_joined] : joined) {
    if (changed_tvds.count(tvd) || hosts_joined.empty()) continue;
    std::string token;
    for (const auto& [uuid, row] : tvd_by_uuid_) {
      if (row.name == tvd) token = row.token;
    }
    change.joins[tvd] = {token, std::move(hosts_joined)};
  }
  change.underlays = std::move(hosts);
  return change;
}

}  // namespace tvd::master
