// Which master a host tries next, and after how long, once its member
// channel ended without a LeaveNotice (docs/host.md, "Fail-over across
// master replicas"). Pure: no clock, no I/O; the random numbers are passed
// in.
//
// With masters 0..n-1 and master `lost` gone, attempt k (k = 0, 1, ...)
// goes to master (lost + 1 + k) mod n: the next one in the list first, then
// around, the lost one last in each round (it may have restarted). Before
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
                   FailoverBackoff backoff);

  // The next attempt: where, and the bound of its delay.
  Step Next();

  // A delay in [bound/2, bound] from a random number (uniform over its
  // range when `random` is).
  static std::chrono::milliseconds Jitter(std::chrono::milliseconds bound,
                                          std::uint64_t random);

 private:
  std::size_t masters_;
  std::size_t lost_;
  FailoverBackoff backoff_;
  std::uint64_t attempt_ = 0;
};

}  // namespace tvd::proxy
