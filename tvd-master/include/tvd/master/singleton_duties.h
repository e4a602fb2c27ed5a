// The master's singleton duty: the eviction deadlines (eviction_deadlines.h)
// of hosts nobody re-attests any more. Of several masters on one replicated
// store exactly one runs it: the one that holds the OVSDB lock
// "tvd_master_duties" (ovsdb_lock.h); a single master on SQLite holds it
// always.
//
// Every `sweep` the runner asks whether the duty is held. While it is, it
// reads the members (with their TVD's interval) from this replica's
// registry and the stored verdicts from the store, and evicts each overdue
// host through the same path a failed re-attestation takes (the decision
// lock, the registry's Evict, the write journal: MasterCore::EvictNow).
// The duty counts from the sweep that first saw it held: a new holder
// gives every member a full round first (eviction_deadlines.h says why).
// Before each eviction it asks again; a holder that loses the lock stops at
// the next check, within the lock's hold bound.
//
// The seams are functions, so unit tests run it with fakes and time
// passed in; Master wires the real ones.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "tvd/master/eviction_deadlines.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::master {

struct DutyHooks {
  // Whether this replica holds the duty now.
  std::function<bool()> held;
  // This replica's members with their TVD's re-attestation interval.
  std::function<std::vector<MemberInterval>()> members;
  // The stored Host rows (the verdicts).
  std::function<StatusOr<std::vector<HostRow>>()> hosts;
  // Evicts one host (from every TVD it is in); OK once durable.
  std::function<Status(const OverdueHost&)> evict;
  // Wall-clock time, unix milliseconds (the verdicts are wall-clock).
  std::function<std::int64_t()> now_unix_ms;
};

struct DutyOptions {
  std::chrono::milliseconds sweep{1000};
  std::chrono::milliseconds grace{10000};
};

class SingletonDuties {
 public:
  SingletonDuties(DutyHooks hooks, DutyOptions options);
  ~SingletonDuties();
  SingletonDuties(const SingletonDuties&) = delete;
  SingletonDuties& operator=(const SingletonDuties&) = delete;

  // Runs SweepOnce every `sweep` on a thread of its own until Stop.
  void Start();
  // Idempotent; waits for a sweep in progress.
  void Stop();

  // One pass: not held -> nothing (and the duty's start is forgotten);
  // held -> evicts the overdue hosts and returns those evicted. Each is
  // checked again against the store and the members just before its
  // eviction (Recheck): one that re-attested or left since the sweep read
  // them is left alone. A store read error is returned as it is; an
  // eviction that fails is logged and left out (the next sweep tries it
  // again).
  StatusOr<std::vector<OverdueHost>> SweepOnce();

  // Whether the last sweep found the duty held; evictions made so far.
  bool holding() const { return holding_.load(); }
  std::uint64_t evictions() const { return evictions_.load(); }

 private:
  void Run();
  // `host` if it is overdue by a fresh read of the hosts and members; the
  // reason and lateness as of now.
  std::optional<OverdueHost> Recheck(const std::string& host);

  const DutyHooks hooks_;
  const DutyOptions options_;
  std::optional<std::int64_t> duty_since_;  // sweeping thread only
  std::atomic<bool> holding_{false};
  std::atomic<std::uint64_t> evictions_{0};

  Mutex mu_;
  CondVar cv_;
  bool stop_ TVD_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tvd::master
