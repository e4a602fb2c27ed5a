// How a replica follows the decisions of the other masters sharing its
// store: each change the store watch reports goes through the registry
// (TvdRegistry::ApplyStored / ApplyStoredJoins), and a decision that lost
// its race is made again on the stored state.
#include <map>
#include <thread>

#include "master_core.h"
#include "tvd/log.h"

namespace tvd::master {

void MasterCore::ApplyStoreChange(const StoreChange& change) {
  MutexLock lock(mutex);
  for (const auto& [host, underlay] : change.underlays) {
    registry.ApplyStoredHost(host, underlay);
  }
  Decision d;
  for (const auto& [tvd, stored] : change.tvds) {
    auto applied = registry.ApplyStored(tvd, stored.row, stored.members,
                                        /*force=*/false, stored.departures);
    if (!applied.ok()) {
      // The TVD stays as this master knew it; its members keep being
      // served from that until a row that applies arrives.
      log::Error("stored TVD ", tvd,
                 " not taken: ", applied.status().ToString());
      continue;
    }
    d.Append(std::move(applied).value());
  }
  for (const auto& [tvd, joins] : change.joins) {
    d.Append(registry.ApplyStoredJoins(tvd, joins.token, joins.hosts));
  }
  if (!d.notices.empty()) SubmitLocked(std::move(d));
}

Status MasterCore::ReloadFromStore() {
  Store& st = *store;
  TVD_ASSIGN_OR_RETURN(std::vector<TvdRow> rows, st.ListTvds());
  std::map<std::string, std::vector<std::string>> members;
  for (const TvdRow& row : rows) {
    TVD_ASSIGN_OR_RETURN(members[row.name], st.Members(row.name));
  }
  TVD_ASSIGN_OR_RETURN(std::vector<HostRow> hosts, st.ListHosts());
  MutexLock lock(mutex);
  for (const HostRow& h : hosts) {
    registry.ApplyStoredHost(h.name, h.underlay);
  }
  Decision d;
  for (const TvdRow& row : rows) {
    TVD_ASSIGN_OR_RETURN(
        Decision applied,
        registry.ApplyStored(row.name, row, members[row.name], true));
    d.Append(std::move(applied));
  }
  std::vector<std::string> gone;
  for (const auto& [name, t] : registry.tvds()) {
    if (!members.count(name)) gone.push_back(name);
  }
  for (const std::string& name : gone) {
    TVD_ASSIGN_OR_RETURN(Decision applied,
                         registry.ApplyStored(name, std::nullopt, {}, true));
    d.Append(std::move(applied));
  }
  if (!d.notices.empty() || !d.writes.empty()) {
    SubmitLocked(std::move(d));
  }
  return Status::Ok();
}

Status MasterCore::DecideAndWait(
    const std::function<StatusOr<WriteJournal::Ticket>()>& decide) {
  Status last = Status::Ok();
  for (int attempt = 0; attempt < kDecideAttempts; ++attempt) {
    if (attempt > 0) {
      // The watch brings the row that won within a round trip or two.
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt));
    }
    TVD_ASSIGN_OR_RETURN(WriteJournal::Ticket ticket, decide());
    last = journal.Wait(ticket);
    if (last.code() != ErrorCode::kFailedPrecondition) return last;
  }
  return last;
}

}  // namespace tvd::master
