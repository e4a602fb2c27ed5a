#include "tvd/master/write_journal.h"

#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::master {

struct WriteJournal::Entry {
  std::vector<StoreWrite> writes;
  std::function<void()> after;
  bool done = false;  // journal mutex_
  Status status;      // journal mutex_, valid when done
  // With the journal's mutex_: `done` became true. One per entry, so that
  // finishing an entry wakes its own waiter, not every thread waiting on
  // any entry (with a thousand hosts joining at once, a shared condition
  // made each write wake a thousand threads to take the same mutex).
  CondVar done_cv;
};

WriteJournal::WriteJournal(Store& store,
                           std::function<void(const Status&)> on_failure,
                           std::function<Status()> gate)
    : store_(store),
      on_failure_(std::move(on_failure)),
      gate_(std::move(gate)) {
  writer_ = std::thread([this] { Run(); });
}

WriteJournal::~WriteJournal() { Stop(); }

WriteJournal::Ticket WriteJournal::Submit(std::vector<StoreWrite> writes,
                                          std::function<void()> after) {
  auto entry = std::make_shared<Entry>();
  entry->writes = std::move(writes);
  entry->after = std::move(after);
  MutexLock lock(mutex_);
  if (failed_) {
    entry->done = true;
    entry->status = Status(failed_->code(),
                           "state store failed earlier: " + failed_->message());
  } else if (stopping_) {
    entry->done = true;
    entry->status = Unavailable("master is stopping");
  } else {
    queue_.push_back(entry);
    cv_.NotifyOne();
  }
  return entry;
}

Status WriteJournal::Wait(const Ticket& ticket) {
  MutexLock lock(mutex_);
  while (!ticket->done) ticket->done_cv.Wait(mutex_);
  return ticket->status;
}

Status WriteJournal::Apply(std::vector<StoreWrite> writes,
                           std::function<void()> after) {
  return Wait(Submit(std::move(writes), std::move(after)));
}

void WriteJournal::Stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
    cv_.NotifyOne();
  }
  if (writer_.joinable()) writer_.join();
}

void WriteJournal::Run() {
  while (true) {
    Ticket entry;
    std::optional<Status> failed;
    {
      MutexLock lock(mutex_);
      while (!stopping_ && queue_.empty()) cv_.Wait(mutex_);
      if (queue_.empty()) return;  // stopping and drained
      entry = queue_.front();
      queue_.pop_front();
      failed = failed_;
    }
    // The store's own lock serializes SQLite; no master lock is held here.
    Status status;
    bool isolated_failure = false;
    Status refused = gate_ ? gate_() : Status::Ok();
    if (failed) {
      status = Status(failed->code(),
                      "state store failed earlier: " + failed->message());
    } else if (!refused.ok()) {
      // Cut off from the store: this entry fails, the journal goes on.
      status = refused;
      isolated_failure = true;
    } else {
      // Required writes first, in order; then the delivery; then the
      // best-effort audit rows, so an fsync that no message depends on
      // does not delay the fan-out (the requester still waits for them).
      for (StoreWrite& w : entry->writes) {
        if (!w.required) continue;
        Status s = w.apply(store_);
        if (s.ok()) continue;
        status = s;
        // A transition that lost its race to another master, or a fenced
        // one refused for want of the duty lock, changed nothing: only
        // this entry fails (the caller decides again, or reloads).
        isolated_failure = w.isolated ||
                           (!w.transition_of.empty() &&
                            (s.code() == ErrorCode::kFailedPrecondition ||
                             s.code() == ErrorCode::kPermissionDenied)) ||
                           (gate_ && !gate_().ok());
        break;
      }
      if (status.ok() && entry->after) entry->after();
      if (status.ok()) {
        for (StoreWrite& w : entry->writes) {
          if (w.required) continue;
          Status s = w.apply(store_);
          if (!s.ok()) {
            log::Error("audit row lost (", w.what, "): ", s.ToString());
          }
        }
      }
    }
    bool first_failure = false;
    {
      MutexLock lock(mutex_);
      if (!status.ok() && !failed_ && !isolated_failure) {
        failed_ = status;
        first_failure = true;
      }
    }
    if (first_failure) {
      // Before anyone hears of the failure: the channels end first.
      log::Error(
          "state store write failed, the master stops accepting "
          "changes: ",
          status.ToString());
      if (on_failure_) on_failure_(status);
    }
    MutexLock lock(mutex_);
    entry->done = true;
    entry->status = status;
    entry->done_cv.NotifyAll();
  }
}

}  // namespace tvd::master
