// Makes the master's decisions durable without holding the decision lock
// during an fsync. Decisions are submitted in the order they were made
// (callers submit while holding the lock that orders their decisions); one
// writer thread applies them to the Store in exactly that order, so two
// writers never reorder one TVD's state, then runs each entry's `after`
// (delivery of the messages the decision produced) and wakes its waiter.
// A host or admin is answered only after Wait() returned OK: nothing is
// acknowledged before it is durable.
//
// Fail-stop: when a required write fails, that entry and every later one
// fail with that error (their `after` never runs, so no message built on
// undurable state leaves), `on_failure` runs once, and the journal accepts
// nothing more. An `isolated` write fails only its own entry, and so does a
// TVD transition refused by its precondition (another master changed the
// TVD first: FailedPrecondition, nothing was written) or for want of the
// duty lock (a fenced transition: PermissionDenied, nothing written).
// Writes marked not required (best-effort audit rows) are logged when lost
// and do not stop the journal.
//
// Batches: what is queued when the writer comes for it goes to the store as
// one batch (store_batch.h), up to 128 entries: one commit for all, then
// their `after`s in order. An entry with a write the batch cannot take is
// applied alone, by the rules above; so is an entry whose precondition
// failed the batch's commit (after the entries before it, batched again);
// a batch whose commit failed otherwise is applied again entry by entry.
// Every outcome is the one the entries would have had alone, in the same
// order.
//
// Cut off from the store: while `gate` (optional) refuses, an entry fails
// with the gate's error without touching the store, and so does an entry
// whose write failed while the gate refused; neither stops the journal.
// The master then serves nothing (store_fence.h) and, once the store is
// back, reloads its state from it, so a write whose outcome is unknown
// (sent, answer lost) is read back as whatever the store holds.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "tvd/master/store.h"
#include "tvd/master/tvd_registry.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::master {

class WriteJournal {
 public:
  struct Entry;
  using Ticket = std::shared_ptr<Entry>;

  // Starts the writer thread. `store` outlives the journal.
  WriteJournal(Store& store, std::function<void(const Status&)> on_failure,
               std::function<Status()> gate = {});
  ~WriteJournal();
  WriteJournal(const WriteJournal&) = delete;
  WriteJournal& operator=(const WriteJournal&) = delete;

  // Queues `writes`, then `after`. Never blocks on I/O.
  Ticket Submit(std::vector<StoreWrite> writes, std::function<void()> after);
  // Blocks until the entry is durable (OK) or failed: the first failed
  // required write's status, for an entry after a failure "state store
  // failed earlier: <status>" (same code), Unavailable "master is stopping"
  // for an entry submitted after Stop().
  Status Wait(const Ticket& ticket);
  // Submit + Wait.
  Status Apply(std::vector<StoreWrite> writes, std::function<void()> after);
  // Applies what is queued, then stops the writer. Idempotent.
  void Stop();

 private:
  void Run();
  // Makes the leading entries of `entries` that join one store batch
  // durable with one commit (store_batch.h), runs their `after` and wakes
  // their waiters; returns how many. The entry after them (if any) goes
  // alone next: it could not join, or its precondition failed the commit.
  // Clears `*batching` when the store has no batches or a commit failed
  // for another reason (then nothing was committed).
  std::size_t ApplyBatch(std::span<const Ticket> entries, bool* batching);
  // One entry on its own, with the fail-stop rules above.
  void ApplyAlone(const Ticket& entry);
  void Finish(const Ticket& entry, const Status& status);

  Store& store_;
  std::function<void(const Status&)> on_failure_;
  std::function<Status()> gate_;
  Mutex mutex_;
  CondVar cv_;  // with mutex_: queue_ or stopping_ changed
  std::deque<Ticket> queue_ TVD_GUARDED_BY(mutex_);
  bool stopping_ TVD_GUARDED_BY(mutex_) = false;
  std::optional<Status> failed_
      TVD_GUARDED_BY(mutex_);  // first required failure
  std::thread writer_;
};

}  // namespace tvd::master
