// The daemons' sense of time, behind a seam so that schedules, intervals
// and backoffs are tested without sleeping (tests use
// tvd/testing/fake_clock.h and advance it). Only monotonic time: deadlines
// and intervals, never the wall clock.
#pragma once

#include <chrono>
#include <memory>

namespace tvd {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Never goes backwards. Thread-safe in every implementation.
  virtual TimePoint Now() const = 0;
};
using ClockPtr = std::shared_ptr<const Clock>;

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace tvd
