// When a member channel must prove its attestation again: one round every
// `interval` of the TVD's host requirements, counted from the last verdict.
// Pure: time comes from the injected Clock.
#pragma once

#include <algorithm>
#include <chrono>

#include "tvd/clock.h"

namespace tvd::master {

class ReattestSchedule {
 public:
  // The first round is due `interval` after construction.
  ReattestSchedule(const Clock& clock, std::chrono::milliseconds interval)
      : clock_(clock), due_(clock.Now() + interval) {}

  bool Due() const { return clock_.Now() >= due_; }

  // Time left until the next round, zero when due; what a channel may sleep
  // at most (a pushed update wakes it earlier).
  std::chrono::milliseconds Remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        due_ - clock_.Now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  // A round passed now: the next is due `interval` from now.
  void Passed(std::chrono::milliseconds interval) {
    due_ = clock_.Now() + interval;
  }

 private:
  const Clock& clock_;
  Clock::TimePoint due_;
};

}  // namespace tvd::master
