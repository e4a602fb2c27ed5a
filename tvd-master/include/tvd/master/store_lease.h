// Whether a master may act on its replicated store, as pure state: the
// results of leader probes go in with the time they were sent; "serve",
// "stop serving" and "resume" come out. No I/O, no clock, no threads;
// StoreFence (store_fence.h) drives it.
//
// The rule (docs/master.md section 6b, "Cut off from the store"): a
// master serves only while a leader probe it SENT less than `bound`
// (store_failover_ms) ago came back confirming a leader (or a standalone
// server). A master cut off in any way (its network, the store's servers
// gone, no election won) stops serving at most `bound` after the last
// confirmed probe was sent, whether it hears anything or not. It resumes
// only on a probe sent after it stopped (an answer from before the cut
// proves nothing about now), and only once what it knew is reloaded from
// the store (the caller does that, then calls Resumed).
#pragma once

#include <chrono>
#include <optional>

namespace tvd::master {

using LeaseClock = std::chrono::steady_clock;

class StoreLease {
 public:
  enum class Step {
    kNone,    // nothing changes
    kLose,    // stop serving now (serving() is false from here on)
    kResume,  // a probe sent after the loss confirmed a leader: reload,
              // then Resumed() (until then, every step says kResume)
  };

  // `opened`: when the store was opened (a leader answered then).
  StoreLease(std::chrono::milliseconds bound, LeaseClock::time_point opened);

  // A probe sent at `sent` came back confirming a leader. Probes answered
  // out of order keep the latest send time.
  void Confirmed(LeaseClock::time_point sent);
  // What to do at `now`.
  Step Tick(LeaseClock::time_point now);
  // The reload after kResume succeeded: serving again.
  void Resumed();

  bool serving() const { return serving_; }
  std::chrono::milliseconds bound() const { return bound_; }
  // How long ago (at `now`) the last confirmed probe was sent.
  std::chrono::milliseconds Silence(LeaseClock::time_point now) const;

 private:
  std::chrono::milliseconds bound_;
  LeaseClock::time_point confirmed_;
  bool serving_ = true;
  std::optional<LeaseClock::time_point> lost_at_;
};

}  // namespace tvd::master
