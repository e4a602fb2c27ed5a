#include "tvd/libvirt_filter/tenant_limits.h"

#include <algorithm>
#include <cmath>

#include "tvd/mutex.h"

namespace tvd::libvirt_filter {

TokenBucket::TokenBucket(double rate, double burst, Clock::time_point now)
    : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

void TokenBucket::Refill(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  last_ = now;
}

std::chrono::nanoseconds TokenBucket::Take(Clock::time_point now) {
  if (rate_ <= 0) return std::chrono::nanoseconds(0);
  Refill(now);
  // The epsilon absorbs rounding of the many small refills, so a token
  // comes exactly every 1/rate seconds.
  if (tokens_ >= 1.0 - 1e-9) {
    tokens_ -= 1.0;
    return std::chrono::nanoseconds(0);
  }
  const double wait = std::max(0.0, 1.0 - tokens_) / rate_;
  return std::max(std::chrono::nanoseconds(1),
                  std::chrono::nanoseconds(
                      static_cast<std::int64_t>(std::ceil(wait * 1e9))));
}

TenantLimits::TenantLimits(TenantLimitOptions options) : options_(options) {}

TenantLimits::Tenant& TenantLimits::TenantFor(const std::string& tvd,
                                              Clock::time_point now) {
  auto it = tenants_.find(tvd);
  if (it == tenants_.end()) {
    it = tenants_
             .emplace(tvd, Tenant{0,
                                  0,
                                  TokenBucket(options_.calls_per_second,
                                              options_.burst, now),
                                  {}})
             .first;
  }
  return it->second;
}

Status TenantLimits::OpenConnection(const std::string& tvd) {
  MutexLock lock(mu_);
  Tenant& t = TenantFor(tvd, Clock::now());
  if (options_.max_connections != 0 &&
      t.connections >= options_.max_connections) {
    return ResourceExhausted("TVD " + tvd + " has " +
                             std::to_string(t.connections) +
                             " relay connections open, the most allowed");
  }
  ++t.connections;
  return Status::Ok();
}

void TenantLimits::CloseConnection(const std::string& tvd, Waker* waker) {
  MutexLock lock(mu_);
  auto it = tenants_.find(tvd);
  if (it == tenants_.end()) return;
  if (it->second.connections > 0) --it->second.connections;
  it->second.waiting.erase(waker);
  // The bucket is kept: closing and reopening connections must not refill
  // it.
}

TenantLimits::Admission TenantLimits::Admit(const std::string& tvd,
                                            Clock::time_point now,
                                            bool needs_slot, Waker* waker) {
  MutexLock lock(mu_);
  Tenant& t = TenantFor(tvd, now);
  Admission a;
  if (needs_slot && options_.max_in_flight != 0 &&
      t.in_flight >= options_.max_in_flight) {
    if (waker != nullptr) t.waiting.insert(waker);
    return a;
  }
  a.retry_after = t.bucket.Take(now);
  if (a.retry_after.count() > 0) return a;
  if (waker != nullptr) t.waiting.erase(waker);
  if (needs_slot) ++t.in_flight;
  a.admitted = true;
  return a;
}

void TenantLimits::CallsDone(const std::string& tvd, std::size_t n) {
  if (n == 0) return;
  MutexLock lock(mu_);
  auto it = tenants_.find(tvd);
  if (it == tenants_.end()) return;
  it->second.in_flight -= std::min(it->second.in_flight, n);
  // Woken under the lock: a waker is removed (CloseConnection) under the
  // same lock before its connection's eventfd is closed.
  for (Waker* w : it->second.waiting) w->Wake();
  it->second.waiting.clear();
}

std::size_t TenantLimits::connections(const std::string& tvd) const {
  MutexLock lock(mu_);
  auto it = tenants_.find(tvd);
  return it != tenants_.end() ? it->second.connections : 0;
}

std::size_t TenantLimits::in_flight(const std::string& tvd) const {
  MutexLock lock(mu_);
  auto it = tenants_.find(tvd);
  return it != tenants_.end() ? it->second.in_flight : 0;
}

}  // namespace tvd::libvirt_filter
