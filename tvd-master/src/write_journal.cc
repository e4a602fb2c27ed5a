#include "tvd/master/write_journal.h"

#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::master {
namespace {

// Entries taken from the queue at once: one batch holds at most these.
constexpr std::size_t kMaxBatch = 128;

}  // namespace

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
    std::vector<Ticket> taken;
    {
      MutexLock lock(mutex_);
      while (!stopping_ && queue_.empty()) cv_.Wait(mutex_);
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && taken.size() < kMaxBatch) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // As many entries as join one batch, then the first that did not
    // alone, and on with a batch of those after it; after a commit that
    // failed for want of the store, the rest of this round one at a time.
    bool batching = true;
    std::size_t next = 0;
    while (next < taken.size()) {
      if (batching) {
        std::span<const Ticket> rest(taken.data() + next, taken.size() - next);
        next += ApplyBatch(rest, &batching);
      }
      if (next < taken.size()) ApplyAlone(taken[next++]);
    }
  }
}

std::size_t WriteJournal::ApplyBatch(std::span<const Ticket> entries,
                                     bool* batching) {
  {
    MutexLock lock(mutex_);
    if (failed_) return 0;
  }
  if (gate_ && !gate_().ok()) return 0;
  std::unique_ptr<StoreBatch> batch = store_.BeginBatch();
  if (!batch) {
    *batching = false;
    return 0;
  }
  std::size_t joined = 0;
  for (const Ticket& entry : entries) {
    batch->BeginEntry();
    bool all = true;
    // Required writes first, as alone; every write must join, audit rows
    // included (the batch's one commit costs the same with them).
    for (bool required : {true, false}) {
      for (StoreWrite& w : entry->writes) {
        if (w.required != required) continue;
        if (!w.apply(batch->store()).ok()) {
          all = false;
          break;
        }
      }
      if (!all) break;
    }
    if (!all) {
      batch->DropEntry();
      break;
    }
    ++joined;
  }
  if (joined == 0) return 0;
  Status committed = batch->Commit();
  if (!committed.ok() && batch->failed_entry() &&
      *batch->failed_entry() < joined) {
    // A precondition failed: the entries before that one again, as a
    // batch; that one goes alone next.
    std::size_t before = *batch->failed_entry();
    batch.reset();
    return before == 0 ? 0 : ApplyBatch(entries.first(before), batching);
  }
  if (!committed.ok()) {
    // Nothing is known durable: each entry again, alone, in order (every
    // write is safe to apply twice should the commit have gone through).
    log::Info("a batch of ", joined,
              " journal entries was not committed, applying them one at a "
              "time: ",
              committed.ToString());
    *batching = false;
    return 0;
  }
  for (std::size_t i = 0; i < joined; ++i) {
    if (entries[i]->after) entries[i]->after();
    Finish(entries[i], Status::Ok());
  }
  return joined;
}

void WriteJournal::Finish(const Ticket& entry, const Status& status) {
  MutexLock lock(mutex_);
  entry->done = true;
  entry->status = status;
  entry->done_cv.NotifyAll();
}

void WriteJournal::ApplyAlone(const Ticket& entry) {
  std::optional<Status> failed;
  {
    MutexLock lock(mutex_);
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
  Finish(entry, status);
}

}  // namespace tvd::master
