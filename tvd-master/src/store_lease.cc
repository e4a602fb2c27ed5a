#include "tvd/master/store_lease.h"

namespace tvd::master {

StoreLease::StoreLease(std::chrono::milliseconds bound,
                       LeaseClock::time_point opened)
    : bound_(bound), confirmed_(opened) {}

void StoreLease::Confirmed(LeaseClock::time_point sent) {
  if (sent > confirmed_) confirmed_ = sent;
}

StoreLease::Step StoreLease::Tick(LeaseClock::time_point now) {
  bool fresh = now - confirmed_ < bound_;
  if (serving_) {
    if (fresh) return Step::kNone;
    serving_ = false;
    lost_at_ = now;
    return Step::kLose;
  }
  if (fresh && lost_at_ && confirmed_ > *lost_at_) return Step::kResume;
  return Step::kNone;
}

void StoreLease::Resumed() {
  serving_ = true;
  lost_at_.reset();
}

std::chrono::milliseconds StoreLease::Silence(
    LeaseClock::time_point now) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now -
                                                               confirmed_);
}

}  // namespace tvd::master
