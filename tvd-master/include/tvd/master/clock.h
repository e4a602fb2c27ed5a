// The master's sense of time, behind a seam so the re-attestation schedule
// is tested without sleeping. Only monotonic time: deadlines and intervals.
#pragma once

#include <chrono>
#include <memory>

namespace tvd::master {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};
using ClockPtr = std::shared_ptr<const Clock>;

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace tvd::master
