// Per-tenant connection, rate and in-flight limits with a fake clock.
#include "tvd/libvirt_filter/tenant_limits.h"

#include <gtest/gtest.h>

namespace tvd::libvirt_filter {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using Clock = std::chrono::steady_clock;

const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(1));

struct CountingWaker : Waker {
  int wakes = 0;
  void Wake() override { ++wakes; }
};

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket b(2, 3, kT0);  // 2 per second, 3 at once
  EXPECT_EQ(b.Take(kT0), nanoseconds(0));
  EXPECT_EQ(b.Take(kT0), nanoseconds(0));
  EXPECT_EQ(b.Take(kT0), nanoseconds(0));
  EXPECT_EQ(b.Take(kT0), milliseconds(500));
  EXPECT_EQ(b.Take(kT0 + milliseconds(250)), milliseconds(250));
  EXPECT_EQ(b.Take(kT0 + milliseconds(500)), nanoseconds(0));
  EXPECT_EQ(b.Take(kT0 + milliseconds(500)), milliseconds(500));
}

TEST(TokenBucketTest, IdleTimeFillsNoMoreThanTheBurst) {
  TokenBucket b(10, 2, kT0);
  EXPECT_EQ(b.Take(kT0), nanoseconds(0));
  EXPECT_EQ(b.Take(kT0), nanoseconds(0));
  const Clock::time_point later = kT0 + std::chrono::hours(1);
  EXPECT_EQ(b.Take(later), nanoseconds(0));
  EXPECT_EQ(b.Take(later), nanoseconds(0));
  EXPECT_EQ(b.Take(later), milliseconds(100));
  // A clock that goes backwards adds nothing.
  EXPECT_EQ(b.Take(kT0), milliseconds(100));
}

TEST(TokenBucketTest, ZeroRateIsNoLimit) {
  TokenBucket b(0, 1, kT0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.Take(kT0), nanoseconds(0));
}

// Under constant demand for 5 s, exactly burst + rate * 5 s calls go.
TEST(TenantLimitsTest, RateBoundsCallsOverTime) {
  TenantLimits limits({0, 50, 100, 0});
  int admitted = 0;
  for (Clock::time_point t = kT0; t <= kT0 + std::chrono::seconds(5);
       t += milliseconds(1)) {
    while (limits.Admit("red", t, true, nullptr).admitted) ++admitted;
  }
  EXPECT_EQ(admitted, 100 + 50 * 5);
}

TEST(TenantLimitsTest, RateIsSharedByATenantsConnectionsOnly) {
  TenantLimits limits({0, 1, 2, 0});
  // Two connections of red share one bucket.
  EXPECT_TRUE(limits.Admit("red", kT0, true, nullptr).admitted);
  EXPECT_TRUE(limits.Admit("red", kT0, true, nullptr).admitted);
  TenantLimits::Admission a = limits.Admit("red", kT0, true, nullptr);
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.retry_after, std::chrono::seconds(1));
  // Blue is not delayed by red.
  EXPECT_TRUE(limits.Admit("blue", kT0, true, nullptr).admitted);
  EXPECT_TRUE(limits.Admit("blue", kT0, true, nullptr).admitted);
}

TEST(TenantLimitsTest, ConnectionsPerTenant) {
  TenantLimits limits({2, 0, 1, 0});
  EXPECT_TRUE(limits.OpenConnection("red").ok());
  EXPECT_TRUE(limits.OpenConnection("red").ok());
  EXPECT_EQ(limits.OpenConnection("red"),
            ResourceExhausted(
                "TVD red has 2 relay connections open, the most allowed"));
  EXPECT_EQ(limits.connections("red"), 2u);
  EXPECT_TRUE(limits.OpenConnection("blue").ok());
  limits.CloseConnection("red", nullptr);
  EXPECT_TRUE(limits.OpenConnection("red").ok());
  EXPECT_EQ(limits.connections("red"), 2u);
}

TEST(TenantLimitsTest, CallsInFlightAcrossConnections) {
  TenantLimits limits({0, 0, 1, 2});
  CountingWaker w1, w2, blue_waker;
  EXPECT_TRUE(limits.Admit("red", kT0, true, &w1).admitted);
  EXPECT_TRUE(limits.Admit("red", kT0, true, &w2).admitted);
  TenantLimits::Admission a = limits.Admit("red", kT0, true, &w1);
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.retry_after, nanoseconds(0));  // waits for a wake-up
  EXPECT_FALSE(limits.Admit("red", kT0, true, &w2).admitted);
  // Keepalives need no call slot.
  EXPECT_TRUE(limits.Admit("red", kT0, false, nullptr).admitted);
  // Blue has its own slots.
  EXPECT_TRUE(limits.Admit("blue", kT0, true, &blue_waker).admitted);
  EXPECT_EQ(limits.in_flight("red"), 2u);

  limits.CallsDone("red", 1);
  EXPECT_EQ(w1.wakes, 1);
  EXPECT_EQ(w2.wakes, 1);
  EXPECT_EQ(blue_waker.wakes, 0);
  EXPECT_TRUE(limits.Admit("red", kT0, true, &w1).admitted);
  // Waiters are woken once per wait, not on every later completion.
  limits.CallsDone("red", 2);
  EXPECT_EQ(w1.wakes, 1);
  EXPECT_EQ(w2.wakes, 1);
  EXPECT_EQ(limits.in_flight("red"), 0u);
  // More done than taken never underflows.
  limits.CallsDone("red", 5);
  EXPECT_EQ(limits.in_flight("red"), 0u);
}

TEST(TenantLimitsTest, ClosedConnectionIsNeverWoken) {
  TenantLimits limits({0, 0, 1, 1});
  CountingWaker w;
  ASSERT_TRUE(limits.OpenConnection("red").ok());
  EXPECT_TRUE(limits.Admit("red", kT0, true, nullptr).admitted);
  EXPECT_FALSE(limits.Admit("red", kT0, true, &w).admitted);
  limits.CloseConnection("red", &w);
  limits.CallsDone("red", 1);
  EXPECT_EQ(w.wakes, 0);
}

TEST(TenantLimitsTest, WaitingForASlotUsesNoToken) {
  TenantLimits limits({0, 1, 1, 1});
  EXPECT_TRUE(limits.Admit("red", kT0, true, nullptr).admitted);
  const Clock::time_point later = kT0 + std::chrono::seconds(1);
  EXPECT_FALSE(limits.Admit("red", later, true, nullptr).admitted);
  EXPECT_FALSE(limits.Admit("red", later, true, nullptr).admitted);
  limits.CallsDone("red", 1);
  // The token refilled during the wait is still there.
  EXPECT_TRUE(limits.Admit("red", later, true, nullptr).admitted);
}

}  // namespace
}  // namespace tvd::libvirt_filter
