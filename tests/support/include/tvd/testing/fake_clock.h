// A Clock (tvd/clock.h) that moves only when the test says so: timing
// decisions (intervals, backoffs, schedules) are checked to the
// millisecond without sleeping. Thread-safe, like every Clock.
#pragma once

#include <chrono>

#include "tvd/clock.h"
#include "tvd/mutex.h"

namespace tvd::testing {

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override {
    MutexLock lock(mu_);
    return now_;
  }
  // Moves time forward by `d` (never backwards: a Clock is monotonic).
  void Advance(std::chrono::milliseconds d) {
    MutexLock lock(mu_);
    if (d.count() > 0) now_ += d;
  }

 private:
  mutable Mutex mu_;
  // Not at the epoch, so "the zero time point" is never mistaken for "now".
  TimePoint now_ TVD_GUARDED_BY(mu_){std::chrono::hours(1)};
};

}  // namespace tvd::testing
