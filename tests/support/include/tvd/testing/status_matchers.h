// GoogleTest matchers for tvd::Status and tvd::StatusOr<T>, so that a test
// states the exact error it expects in one line:
//
//   EXPECT_THAT(Parse(text), StatusIs(ErrorCode::kInvalidArgument,
//                                     "policy.xml:3: unknown element 'x'"));
//   EXPECT_THAT(Lookup("x"), StatusIs(ErrorCode::kNotFound,
//                                     HasSubstr("no TVD")));
//   EXPECT_THAT(Save(), IsOk());
//
// On a mismatch GoogleTest prints the actual status ("code: message").
#pragma once

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "tvd/status.h"

namespace tvd::testing {

namespace internal {

inline const Status& GetStatus(const Status& s) { return s; }
template <typename T>
const Status& GetStatus(const StatusOr<T>& s) {
  static const Status kOk;
  return s.ok() ? kOk : s.status();
}

template <typename MessageMatcher>
class StatusIsMatcher {
 public:
  using is_gtest_matcher = void;

  StatusIsMatcher(ErrorCode code, MessageMatcher message)
      : code_(code),
        message_(::testing::SafeMatcherCast<const std::string&>(message)) {}

  template <typename S>
  bool MatchAndExplain(const S& value,
                       ::testing::MatchResultListener* listener) const {
    const Status& s = GetStatus(value);
    *listener << "whose status is \"" << s << "\"";
    return s.code() == code_ && message_.Matches(s.message());
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has code " << ErrorCodeName(code_) << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have code " << ErrorCodeName(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  ErrorCode code_;
  ::testing::Matcher<const std::string&> message_;
};

class IsOkMatcher {
 public:
  using is_gtest_matcher = void;
  template <typename S>
  bool MatchAndExplain(const S& value,
                       ::testing::MatchResultListener* listener) const {
    const Status& s = GetStatus(value);
    *listener << "whose status is \"" << s << "\"";
    return s.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is ok"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not ok"; }
};

}  // namespace internal

// Matches a Status or StatusOr whose code is `code` and whose message
// matches `message` (a string for equality, or any string matcher).
template <typename MessageMatcher>
internal::StatusIsMatcher<MessageMatcher> StatusIs(ErrorCode code,
                                                   MessageMatcher message) {
  return {code, std::move(message)};
}
inline internal::StatusIsMatcher<std::string> StatusIs(ErrorCode code,
                                                       const char* message) {
  return {code, std::string(message)};
}

// Matches an OK Status or a StatusOr that holds a value.
inline internal::IsOkMatcher IsOk() { return {}; }

}  // namespace tvd::testing
