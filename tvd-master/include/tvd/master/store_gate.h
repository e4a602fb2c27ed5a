// Whether this master may use its store now: open while the store's
// leader answers, closed while the master is cut off from it (StoreFence,
// store_fence.h, opens and closes it).
//
// Store calls consult it so that a master cut off from its store does not
// queue every request behind calls that retry for the store link's whole
// fail-over time: a closed gate makes the OVSDB link give up at its next
// attempt (OvsdbLinkOptions::gate), and the write journal fail an entry at
// once without stopping (write_journal.h): the master resumes when the
// store comes back, and reloads what it knew from the store then.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::master {

class StoreGate {
 public:
  // OK while open; Unavailable "<why>" (as given to Close) while closed.
  Status Check() const;
  bool open() const;
  // `why` says what a refused call is told, e.g. "master cut off from its
  // store: no leader confirmed for 2500 ms".
  void Close(std::string why);
  void Open();

 private:
  mutable Mutex mu_;
  bool open_ TVD_GUARDED_BY(mu_) = true;
  std::string why_ TVD_GUARDED_BY(mu_);
};

using StoreGatePtr = std::shared_ptr<StoreGate>;

}  // namespace tvd::master
