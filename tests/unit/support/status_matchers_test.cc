#include "tvd/testing/status_matchers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tvd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

StatusOr<int> Parsed(bool ok) {
  if (!ok) return InvalidArgument("a.conf:3: expected a number");
  return 7;
}

TEST(StatusIsTest, MatchesCodeAndExactMessage) {
  EXPECT_THAT(NotFound("no TVD 'blue'"),
              StatusIs(ErrorCode::kNotFound, "no TVD 'blue'"));
  EXPECT_THAT(Parsed(false), StatusIs(ErrorCode::kInvalidArgument,
                                      "a.conf:3: expected a number"));
}

TEST(StatusIsTest, TakesAnyStringMatcher) {
  EXPECT_THAT(Parsed(false),
              StatusIs(ErrorCode::kInvalidArgument, HasSubstr("a.conf:3")));
}

TEST(StatusIsTest, FailsOnAnotherCodeOrMessageOrOnSuccess) {
  EXPECT_THAT(NotFound("x"), Not(StatusIs(ErrorCode::kInternal, "x")));
  EXPECT_THAT(NotFound("x"), Not(StatusIs(ErrorCode::kNotFound, "y")));
  EXPECT_THAT(Parsed(true), Not(StatusIs(ErrorCode::kInvalidArgument, "")));
}

TEST(StatusIsTest, ExplainsAMismatchWithTheActualStatus) {
  ::testing::StringMatchResultListener listener;
  const ::testing::Matcher<const Status&> m =
      StatusIs(ErrorCode::kNotFound, "no TVD 'red'");
  EXPECT_FALSE(m.MatchAndExplain(NotFound("no TVD 'blue'"), &listener));
  EXPECT_EQ(listener.str(), "whose status is \"not-found: no TVD 'blue'\"");
  EXPECT_EQ(::testing::DescribeMatcher<const Status&>(m),
            "has code not-found and a message that is equal to \"no TVD "
            "'red'\"");
}

TEST(IsOkTest, MatchesOkStatusAndStatusOrWithAValue) {
  EXPECT_THAT(Status::Ok(), IsOk());
  EXPECT_THAT(Parsed(true), IsOk());
  EXPECT_THAT(Parsed(false), Not(IsOk()));
  EXPECT_THAT(Internal("x"), Not(IsOk()));
}

}  // namespace
}  // namespace tvd::testing
