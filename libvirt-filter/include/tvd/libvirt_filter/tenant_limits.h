// Per-tenant (per-TVD) limits of the relay, so that one tenant cannot take
// the relay's threads, libvirtd's client slots or libvirtd's worker pool
// from the others:
//   - connections: at most `max_connections` open relay connections per
//     TVD; the next one is refused at connect;
//   - call rate: one token bucket per TVD, shared by all its connections
//     (`calls_per_second`, `burst`); a packet from the tenant beyond it is
//     delayed on that tenant's own connection thread, never refused, so
//     unmodified clients keep working;
//   - calls in flight: at most `max_in_flight` of the TVD's calls
//     forwarded to libvirtd and not yet answered, across its connections
//     (libvirtd runs calls on a bounded worker pool, max_workers); a
//     further call waits on its connection's thread until one is answered.
// Nothing here waits or sleeps: callers are told how long to wait and are
// woken (Waker) when a slot frees. Time is passed in, so tests use a fake
// clock. Thread-safe; one TVD's state never blocks another's beyond a
// short mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

struct TenantLimitOptions {
  // 0 in any field: no limit of that kind.
  std::size_t max_connections = 8;
  double calls_per_second = 200;
  double burst = 400;  // tokens the bucket holds (at least 1 when rate > 0)
  std::size_t max_in_flight = 4;
};

// A token bucket: starts full (`burst` tokens), refills at `rate` tokens
// per second up to `burst`. Not thread-safe.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double rate, double burst, Clock::time_point now);

  // Takes one token if there is one at `now` and returns zero; otherwise
  // takes nothing and returns how long until there is one (> 0).
  std::chrono::nanoseconds Take(Clock::time_point now);

 private:
  void Refill(Clock::time_point now);
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// Woken when a TVD's call slot frees (the relay's connection thread polls
// an eventfd).
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void Wake() = 0;
};

class TenantLimits {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TenantLimits(TenantLimitOptions options);

  const TenantLimitOptions& options() const { return options_; }

  // A new connection of `tvd`. ResourceExhausted "TVD <tvd> has <n> relay
  // connections open, the most allowed" at the limit (nothing counted);
  // otherwise counted until CloseConnection.
  Status OpenConnection(const std::string& tvd);
  // The connection ends; `waker` (may be null) is no longer woken.
  void CloseConnection(const std::string& tvd, Waker* waker);

  struct Admission {
    bool admitted = false;
    // When not admitted: how long until a token is there, or zero when
    // waiting for a call slot (then `waker` is woken when one frees).
    std::chrono::nanoseconds retry_after{0};
  };
  // May the next packet of `tvd` go on at `now`? `needs_slot`: it may be
  // forwarded to libvirtd as a call. Admitted: one token taken and, with
  // `needs_slot`, one call slot taken (give it back with CallsDone when
  // the packet was not forwarded or once libvirtd answered). A call slot
  // is checked before the token, so a call that waits for a slot uses no
  // token meanwhile.
  Admission Admit(const std::string& tvd, Clock::time_point now,
                  bool needs_slot, Waker* waker);
  // `n` call slots of `tvd` are free again; wakes the TVD's waiters.
  void CallsDone(const std::string& tvd, std::size_t n);

  std::size_t connections(const std::string& tvd) const;
  std::size_t in_flight(const std::string& tvd) const;

 private:
  struct Tenant {
    std::size_t connections = 0;
    std::size_t in_flight = 0;
    TokenBucket bucket;
    std::set<Waker*> waiting;
  };
  Tenant& TenantFor(const std::string& tvd, Clock::time_point now);

  TenantLimitOptions options_;
  mutable Mutex mu_;
  std::map<std::string, Tenant> tenants_ TVD_GUARDED_BY(mu_);
};

}  // namespace tvd::libvirt_filter
