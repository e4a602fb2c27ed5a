#include "tvd/sha256.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace tvd {
namespace {

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileMatchesInMemory) {
  std::string path = ::testing::TempDir() + "/sha256_test_file";
  std::string content(200000, 'x');
  { std::ofstream(path, std::ios::binary) << content; }
  StatusOr<Sha256Digest> d = Sha256File(path);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, Sha256(content));
  ::unlink(path.c_str());
}

TEST(Sha256Test, MissingFileIsIoError) {
  StatusOr<Sha256Digest> d = Sha256File("/nonexistent/tvd/file");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kIo);
  EXPECT_EQ(d.status().message(),
            "cannot open /nonexistent/tvd/file: No such file or directory");
}

TEST(Sha256Test, HexRoundTripAndErrors) {
  std::string hex =
      "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
  StatusOr<Sha256Digest> d = Sha256FromHex(hex);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Sha256("abc"));
  EXPECT_EQ(Sha256FromHex("abc").status().message(),
            "a sha256 digest is 64 hex digits, got 3 characters");
  std::string bad(64, '0');
  bad[10] = 'g';
  EXPECT_EQ(Sha256FromHex(bad).status().message(),
            "a sha256 digest has only hex digits, found 'g' at position 10");
}

}  // namespace
}  // namespace tvd
