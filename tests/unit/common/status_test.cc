#include "tvd/status.h"

#include <gtest/gtest.h>

namespace tvd {
namespace {

StatusOr<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

StatusOr<int> Doubled(int v) {
  TVD_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status Check(int v) {
  TVD_RETURN_IF_ERROR(ParsePositive(v).status());
  return Status::Ok();
}

TEST(StatusTest, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = NotFound("tvd blue");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not-found: tvd blue");
  EXPECT_EQ(s.WithContext("join").ToString(), "not-found: join: tvd blue");
}

TEST(StatusTest, AssignOrReturnPropagatesTheError) {
  EXPECT_EQ(*Doubled(4), 8);
  StatusOr<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status(), InvalidArgument("not positive: -1"));
  EXPECT_EQ(Check(-2), InvalidArgument("not positive: -2"));
  EXPECT_TRUE(Check(3).ok());
}

TEST(StatusTest, ErrnoErrorNamesTheCall) {
  EXPECT_EQ(ErrnoError("open /x", ENOENT).message(),
            "open /x: No such file or directory");
}

TEST(StatusTest, ErrorCodeFromNameInvertsErrorCodeName) {
  for (ErrorCode code :
       {ErrorCode::kInvalidArgument, ErrorCode::kNotFound,
        ErrorCode::kAlreadyExists, ErrorCode::kPermissionDenied,
        ErrorCode::kUnauthenticated, ErrorCode::kFailedPrecondition,
        ErrorCode::kUnavailable, ErrorCode::kTimeout, ErrorCode::kProtocol,
        ErrorCode::kIo, ErrorCode::kInternal, ErrorCode::kResourceExhausted}) {
    EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code)
        << ErrorCodeName(code);
  }
  EXPECT_EQ(ErrorCodeFromName("permission-denied"),
            ErrorCode::kPermissionDenied);
}

// A peer cannot invent codes or report "ok" as an error.
TEST(StatusTest, ErrorCodeFromNameMapsUnknownAndOkToInternal) {
  EXPECT_EQ(ErrorCodeFromName("ok"), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeFromName(""), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeFromName("Permission-Denied"), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeFromName("no-such-code"), ErrorCode::kInternal);
}

// In every build flavour (NDEBUG included): abort with the message.
TEST(StatusDeathTest, ValueOfAnErrorAbortsWithTheStatusMessage) {
  StatusOr<int> bad = ParsePositive(-3);
  EXPECT_DEATH((void)bad.value(),
               "StatusOr::value\\(\\) on an error: invalid-argument: not "
               "positive: -3");
  const StatusOr<std::string> cbad = NotFound("tvd blue");
  EXPECT_DEATH((void)cbad->size(),
               "StatusOr::value\\(\\) on an error: not-found: tvd blue");
  EXPECT_DEATH((void)std::move(bad).value(),
               "on an error: invalid-argument: not positive: -3");
}

}  // namespace
}  // namespace tvd
