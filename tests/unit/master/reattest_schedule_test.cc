#include "tvd/master/reattest_schedule.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace tvd::master {
namespace {

using std::chrono::milliseconds;

TEST(MasterScheduleTest, DueOneIntervalAfterTheLastRound) {
  testing::FakeClock clock;
  ReattestSchedule s(clock, milliseconds(1000));
  EXPECT_FALSE(s.Due());
  EXPECT_EQ(s.Remaining(), milliseconds(1000));
  clock.Advance(milliseconds(999));
  EXPECT_FALSE(s.Due());
  EXPECT_EQ(s.Remaining(), milliseconds(1));
  clock.Advance(milliseconds(5));
  EXPECT_TRUE(s.Due());
  EXPECT_EQ(s.Remaining(), milliseconds(0));  // never negative
  s.Passed(milliseconds(300));
  EXPECT_FALSE(s.Due());
  EXPECT_EQ(s.Remaining(), milliseconds(300));
}

}  // namespace
}  // namespace tvd::master
