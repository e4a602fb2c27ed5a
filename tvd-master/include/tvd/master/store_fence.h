// Keeps a master that is cut off from its replicated store from acting as
// a master (docs/master.md section 6b, "Cut off from the store").
//
// One thread probes the store's leader every `bound`/4 (`probe`: on a
// connection of its own, bounded by its own deadlines); another checks the
// lease (store_lease.h) every `tick`. When no probe sent within `bound`
// was confirmed, the fence closes the gate (store_gate.h: store calls give
// up at once) and runs `lost` (the master ends its member channels, which
// sends its hosts to another master); when a probe sent after that comes
// back, it runs `regained` (the master reloads its view from the store)
// and opens the gate once that succeeded; a failed reload is logged and
// tried again at the next tick. Neither thread waits on the other: a probe
// that blocks (a connect to a server whose packets are dropped) does not
// delay the loss.
//
// The hooks are functions, so unit tests run the fence with fakes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tvd/master/store_gate.h"
#include "tvd/master/store_lease.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::master {

struct StoreFenceHooks {
  // One leader probe; OK when a leader (or a standalone server) answered.
  // Must return within about `bound`.
  std::function<Status()> probe;
  // The master stops serving: `why` is what refused requests are told.
  std::function<void(const std::string& why)> lost;
  // A probe sent after the loss came back: reload from the store. An
  // error keeps the master cut off (retried at the next tick).
  std::function<Status()> regained;
};

struct StoreFenceOptions {
  std::chrono::milliseconds bound{4000};  // store_failover_ms
  std::chrono::milliseconds tick{50};
};

class StoreFence {
 public:
  // Starts both threads; the lease counts from now (the store was just
  // opened). `gate` is shared with the store calls it cuts short.
  static std::unique_ptr<StoreFence> Start(StoreFenceHooks hooks,
                                           StoreFenceOptions options,
                                           StoreGatePtr gate);
  ~StoreFence();
  StoreFence(const StoreFence&) = delete;
  StoreFence& operator=(const StoreFence&) = delete;

  // Stops both threads (waits for a probe in progress). Idempotent.
  void Stop();

  bool serving() const;
  // Times the master stopped serving, and resumed.
  std::uint64_t losses() const;
  std::uint64_t resumptions() const;

 private:
  StoreFence(StoreFenceHooks hooks, StoreFenceOptions options,
             StoreGatePtr gate);
  void Probe();
  void Watch();
  // Waits `d` unless stopped first; false when stopped.
  bool Sleep(std::chrono::milliseconds d);

  const StoreFenceHooks hooks_;
  const StoreFenceOptions options_;
  const StoreGatePtr gate_;
  mutable Mutex mu_;
  CondVar cv_;
  StoreLease lease_ TVD_GUARDED_BY(mu_);
  bool stop_ TVD_GUARDED_BY(mu_) = false;
  std::uint64_t losses_ TVD_GUARDED_BY(mu_) = 0;
  std::uint64_t resumptions_ TVD_GUARDED_BY(mu_) = 0;
  std::thread prober_;
  std::thread watcher_;
};

}  // namespace tvd::master
