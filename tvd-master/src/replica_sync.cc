// How a replica follows the decisions of the other masters sharing its
// store: each change the store watch reports goes through the registry
// (TvdRegistry::ApplyStored / ApplyStoredJoins), and a decision that lost
// its race is made again on the stored state.
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
    auto applied =
        registry.ApplyStored(tvd, stored.row, stored.members, /*force=*/false);
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
