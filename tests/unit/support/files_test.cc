#include "tvd/testing/files.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tvd/testing/temp_dir.h"

namespace tvd::testing {
namespace {

using std::chrono::milliseconds;

TEST(FilesTest, WriteThenReadWithMode) {
  TempDir dir("support-test");
  const std::string path = dir.File("key");
  WriteTestFile(path, std::string("a\0b\n", 4), 0600);
  EXPECT_EQ(ReadFileOrEmpty(path), std::string("a\0b\n", 4));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFileOrEmpty(dir.File("missing")), "");
}

TEST(FilesTest, UnwritablePathFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      WriteTestFile("/nonexistent-dir-of-the-support-test/x", "1"),
      "cannot write /nonexistent-dir-of-the-support-test/x");
}

TEST(WaitForTest, ReturnsOnceTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, milliseconds(5000),
                      milliseconds(1)));
  EXPECT_EQ(calls, 3);
}

TEST(WaitForTest, GivesUpAfterTheTimeoutWithTheLastAnswer) {
  int calls = 0;
  EXPECT_FALSE(WaitFor(
      [&] {
        ++calls;
        return false;
      },
      milliseconds(30), milliseconds(10)));
  EXPECT_GE(calls, 2);
}

}  // namespace
}  // namespace tvd::testing
