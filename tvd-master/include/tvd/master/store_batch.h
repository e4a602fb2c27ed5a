// Many of the master's writes made durable as one: one SQLite transaction
// (one fsync) or one OVSDB transaction (one Raft commit). The write journal
// (write_journal.h) gathers what is queued into a batch, so a thousand
// hosts joining at once cost tens of commits, not thousands: a commit on a
// 3-server OVSDB cluster takes some milliseconds however little it holds.
//
// A batch is made of entries (the journal's entries, in order). Each entry's
// writes go to store(); when one of them cannot join the batch (an error:
// a write a batch cannot express, a read the batch cannot answer, or a
// write that failed), the caller drops that entry with DropEntry(), which
// undoes whatever it added, and applies it alone outside the batch.
// Commit() makes every kept entry durable at once, or none of them: when it
// fails, the caller applies the entries one at a time (or, when the batch
// names the entry whose precondition failed, the ones before it as a batch
// again and that one alone), each write of which is safe to apply again
// (store.h), so a batch whose commit answer was lost changes nothing twice.
//
// Single-threaded: one batch at a time per store, used by one thread. While
// it is open, the store's other users wait for it (SQLite) or are not
// affected (OVSDB: nothing is sent before Commit).
#pragma once

#include <cstddef>
#include <optional>

#include "tvd/status.h"

namespace tvd::master {

class Store;

class StoreBatch {
 public:
  virtual ~StoreBatch() = default;  // without Commit: nothing is written

  // Starts an entry: what store() takes from here on belongs to it.
  virtual void BeginEntry() = 0;
  // Undoes the current entry's writes; the entries before it stay.
  virtual void DropEntry() = 0;
  // The store the current entry's writes go to. OK from one of its write
  // methods means "joined the batch", not yet durable.
  virtual Store& store() = 0;
  // The kept entries (none: OK at once).
  virtual std::size_t entries() const = 0;
  // Makes every kept entry durable at once, or fails and writes nothing
  // (or, when the answer was lost, possibly everything).
  virtual Status Commit() = 0;
  // After a Commit that failed: the kept entry (0 = the first kept) whose
  // precondition did not hold (a transition another master beat, a row
  // that changed since it was read), when the store can tell; every entry
  // before it would have committed. The caller commits those again and
  // applies that one alone.
  virtual std::optional<std::size_t> failed_entry() const {
    return std::nullopt;
  }
};

}  // namespace tvd::master
