// Which master a host tries next, and after how long, once its member
// channel ended without a LeaveNotice (docs/host.md, "Fail-over across
// master replicas"). Pure: no clock, no I/O; the random numbers are passed
// in.
//
// With masters 0..n-1 and master `lost` gone, each round of n attempts
// tries every other master once, then the lost one (it may have
// restarted). Which survivor comes first is drawn once per schedule
// (`spread`): round order is survivor (start + i) mod (n - 1) in the list
// of survivors taken from `lost` + 1 on, for i = 0..n-2, then `lost`, so
// the hosts of a dead master are shared among the survivors instead of all
// falling on the next one in the list. `spread` 0: the next one in the
// list first, then around. Before
// attempt k the host waits a delay drawn uniformly from [bound/2, bound],
// bound = min(max, first x 2^(k / n)): every master is tried once per round,
// and each full round without success doubles the wait, up to `max`. The
// jitter spreads the hosts of a dead master over the others instead of all
// arriving in the same millisecond. With one master this is the rejoin of a
// restarted master: the same master each time, 0.5-1 s first, as before
// lists existed, then slower.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tvd::proxy {

struct FailoverBackoff {
  std::chrono::milliseconds first{1000};  // the bound in the first round
  std::chrono::milliseconds max{15000};   // no bound exceeds this
};

class FailoverSchedule {
 public:
  struct Step {
    std::size_t master = 0;           // index into the list
    std::chrono::milliseconds bound;  // the delay is in [bound/2, bound]
  };

  // `masters` >= 1 and `lost` < `masters` (otherwise clamped: one master,
  // index 0). `first` <= `max` (otherwise `first` is taken as `max`).
  FailoverSchedule(std::size_t masters, std::size_t lost,
                   FailoverBackoff backoff, std::uint64_t spread = 0);

  // The next attempt: where, and the bound of its delay.
  Step Next();

  // A delay in [bound/2, bound] from a random number (uniform over its
  // range when `random` is).
  static std::chrono::milliseconds Jitter(std::chrono::milliseconds bound,
                                          std::uint64_t random);

 private:
  std::size_t masters_;
  std::size_t lost_;
  std::size_t start_ = 0;  // the first survivor tried, in [0, n - 2]
  FailoverBackoff backoff_;
  std::uint64_t attempt_ = 0;
};

}  // namespace tvd::proxy
