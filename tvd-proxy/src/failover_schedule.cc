#include "tvd/proxy/failover_schedule.h"

#include <algorithm>

namespace tvd::proxy {

FailoverSchedule::FailoverSchedule(std::size_t masters, std::size_t lost,
                                   FailoverBackoff backoff,
                                   std::uint64_t spread)
    : masters_(std::max<std::size_t>(masters, 1)),
      lost_(lost < masters ? lost : 0),
      start_(masters_ > 1 ? static_cast<std::size_t>(spread % (masters_ - 1))
                          : 0),
      backoff_(backoff) {
  if (backoff_.max.count() < 1) backoff_.max = std::chrono::milliseconds(1);
  backoff_.first =
      std::clamp(backoff_.first, std::chrono::milliseconds(1), backoff_.max);
}

FailoverSchedule::Step FailoverSchedule::Next() {
  const std::uint64_t k = attempt_++;
  Step step;
  const std::size_t in_round = static_cast<std::size_t>(k % masters_);
  if (masters_ == 1 || in_round == masters_ - 1) {
    step.master = lost_;
  } else {
    const std::size_t survivor = (start_ + in_round) % (masters_ - 1);
    step.master = (lost_ + 1 + survivor) % masters_;
  }
  // Doubling stops at max; the shift never exceeds 62 bits of headroom.
  std::chrono::milliseconds bound = backoff_.first;
  for (std::uint64_t round = k / masters_; round > 0; --round) {
    if (bound >= backoff_.max / 2) {
      bound = backoff_.max;
      break;
    }
    bound *= 2;
  }
  step.bound = std::min(bound, backoff_.max);
  return step;
}

std::chrono::milliseconds FailoverSchedule::Jitter(
    std::chrono::milliseconds bound, std::uint64_t random) {
  if (bound.count() <= 0) return std::chrono::milliseconds(0);
  const auto half = static_cast<std::uint64_t>(bound.count() / 2);
  const auto span = static_cast<std::uint64_t>(bound.count()) - half;
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(half + random % (span + 1)));
}

}  // namespace tvd::proxy
