#include "tvd/daemon/values.h"

#include <gtest/gtest.h>

#include "tvd/daemon/logging.h"
#include "tvd/daemon/port_file.h"

namespace tvd::daemon {
namespace {

using std::chrono::milliseconds;

TEST(ParseIntegerTest, AcceptsDecimalInBounds) {
  EXPECT_EQ(*ParseInteger("0", 0, 10), 0);
  EXPECT_EQ(*ParseInteger("10", 0, 10), 10);
  EXPECT_EQ(*ParseInteger("-3", -5, 5), -3);
}

TEST(ParseIntegerTest, RefusesWithTheBounds) {
  for (const char* bad : {"", "11", "-1", "+1", " 1", "1 ", "0x1", "1.5",
                          "99999999999999999999"}) {
    EXPECT_EQ(
        ParseInteger(bad, 0, 10).status(),
        InvalidArgument("'" + std::string(bad) + "' is not a number in 0..10"))
        << bad;
  }
}

TEST(ParseDurationTest, Units) {
  const milliseconds lo(0), hi(86400000);
  EXPECT_EQ(*ParseDuration("500ms", DurationUnit::kSeconds, lo, hi),
            milliseconds(500));
  EXPECT_EQ(*ParseDuration("30s", DurationUnit::kMilliseconds, lo, hi),
            milliseconds(30000));
  EXPECT_EQ(*ParseDuration("2m", DurationUnit::kMilliseconds, lo, hi),
            milliseconds(120000));
  EXPECT_EQ(*ParseDuration("1h", DurationUnit::kMilliseconds, lo, hi),
            milliseconds(3600000));
  EXPECT_EQ(*ParseDuration("250", DurationUnit::kMilliseconds, lo, hi),
            milliseconds(250));
  EXPECT_EQ(*ParseDuration("3", DurationUnit::kSeconds, lo, hi),
            milliseconds(3000));
}

TEST(ParseDurationTest, Errors) {
  const milliseconds lo(1), hi(60000);
  for (const char* bad : {"", "s", "1.5s", "-1s", "10 s", "5d", "1sms"}) {
    EXPECT_EQ(ParseDuration(bad, DurationUnit::kSeconds, lo, hi).status(),
              InvalidArgument("'" + std::string(bad) +
                              "' is not a duration (digits then ms, s, m or "
                              "h)"))
        << bad;
  }
  for (const char* bad : {"0ms", "61s", "2m", "999999999999999h"}) {
    EXPECT_EQ(ParseDuration(bad, DurationUnit::kSeconds, lo, hi).status(),
              InvalidArgument("'" + std::string(bad) +
                              "' is not a duration in 1ms..60000ms"))
        << bad;
  }
}

TEST(ParseBoolTest, ExactWords) {
  EXPECT_TRUE(*ParseBool("true"));
  EXPECT_TRUE(*ParseBool("yes"));
  EXPECT_FALSE(*ParseBool("0"));
  EXPECT_EQ(ParseBool("TRUE").status(),
            InvalidArgument("'TRUE' is not true or false"));
}

TEST(ParseLogLevelTest, Names) {
  EXPECT_EQ(*ParseLogLevel("warning"), log::Level::kWarning);
  EXPECT_EQ(ParseLogLevel("loud").status(),
            InvalidArgument("'loud' is not one of debug, info, warning, "
                            "error"));
}

TEST(PortFileTest, ParsesWhatIsWritten) {
  EXPECT_EQ(*ParsePortFile("7400\n"), 7400);
  for (const char* bad : {"", "7400", "0\n", "70000\n", "74 00\n", "-1\n"}) {
    EXPECT_EQ(
        ParsePortFile(bad).status(),
        InvalidArgument("port file '" + std::string(bad) + "' is not PORT\\n"))
        << bad;
  }
}

}  // namespace
}  // namespace tvd::daemon
