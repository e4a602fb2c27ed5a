#include "tvd/proxy/measurement_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "tvd/testing/proxy_test_util.h"

namespace tvd::proxy {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(MeasurementCacheTest, UnchangedFileIsHashedOnce) {
  TempDir dir;
  const std::string path = dir.path() + "/img";
  WriteFile(path, "content one");
  MeasurementCache cache;
  auto a = cache.Measure(path);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, Sha256("content one"));
  auto b = cache.Measure(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(MeasurementCacheTest, ChangedContentOfSameSizeIsHashedAgain) {
  TempDir dir;
  const std::string path = dir.path() + "/img";
  WriteFile(path, "content one");
  MeasurementCache cache;
  ASSERT_TRUE(cache.Measure(path).ok());
  // Same size, and mtime forced back to the old value: ctime still moves.
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  WriteFile(path, "content two");
  timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  auto b = cache.Measure(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, Sha256("content two"));
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(MeasurementCacheTest, ReplacedFileIsHashedAgain) {
  TempDir dir;
  const std::string path = dir.path() + "/img";
  WriteFile(path, "old");
  MeasurementCache cache;
  ASSERT_TRUE(cache.Measure(path).ok());
  WriteFile(dir.path() + "/new", "new");
  ASSERT_EQ(::rename((dir.path() + "/new").c_str(), path.c_str()), 0);
  auto b = cache.Measure(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, Sha256("new"));
}

TEST(MeasurementCacheTest, MissingFileAndDirectoryAreErrors) {
  TempDir dir;
  MeasurementCache cache;
  auto missing = cache.Measure(dir.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kIo);
  EXPECT_NE(missing.status().message().find(dir.path() + "/nope"),
            std::string::npos);
  auto d = cache.Measure(dir.path());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status(),
            InvalidArgument("measure " + dir.path() + ": not a regular file"));
}

}  // namespace
}  // namespace tvd::proxy
