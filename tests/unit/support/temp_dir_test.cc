#include "tvd/testing/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tvd::testing {
namespace {

TEST(TempDirTest, CreatesAPrivateDirectoryAndRemovesItWithItsContents) {
  std::string path;
  {
    TempDir dir("support-test");
    path = dir.path();
    ASSERT_EQ(
        path.rfind("/tmp/tvd-support-test-" + std::to_string(::getpid()) + "-",
                   0),
        0u)
        << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    std::filesystem::create_directories(dir.File("a/b"));
    std::ofstream(dir.File("a/b/c")) << "x";
    EXPECT_EQ(dir.File("a"), path + "/a");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, MovingHandsOverTheDirectory) {
  TempDir a("support-test");
  const std::string path = a.path();
  TempDir b(std::move(a));
  EXPECT_EQ(b.path(), path);
  EXPECT_TRUE(a.path().empty());  // NOLINT(bugprone-use-after-move)
  {
    TempDir c("support-test");
    const std::string old = c.path();
    c = std::move(b);
    EXPECT_FALSE(std::filesystem::exists(old));  // the replaced one is gone
    EXPECT_EQ(c.path(), path);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace tvd::testing
