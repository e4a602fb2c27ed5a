#include "tvd/master/key_wrap.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tvd::master {
namespace {

class KeyWrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-kek-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, std::size_t size, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << std::string(size, 'k');
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(KeyWrapTest, LoadsOnlyPrivate32ByteFiles) {
  EXPECT_TRUE(LoadKek(Write("good", 32, 0600)).ok());
  std::string open = Write("open", 32, 0644);
  EXPECT_EQ(LoadKek(open).status(),
            PermissionDenied("KEK file " + open +
                             " has mode 0644; it must "
                             "not be readable by group or others"));
  std::string short_file = Write("short", 5, 0600);
  EXPECT_EQ(LoadKek(short_file).status(),
            InvalidArgument("KEK file " + short_file +
                            " holds 5 bytes, expected 32"));
}

TEST_F(KeyWrapTest, RoundTripAndBinding) {
  SecureBytes kek = SecureBytes::Random(32);
  SecureBytes key = SecureBytes::Random(32);
  auto wrapped = WrapDiskKey(kek, "blue", "web1", key);
  EXPECT_EQ(wrapped.size(), 12u + 32u + 16u);
  auto back = UnwrapDiskKey(kek, "blue", "web1", wrapped);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->Equals(key.view()));
  // Another row, another KEK, a flipped bit: refused.
  Status refused = Unauthenticated(
      "disk key of blue/web2 does not unwrap (wrong KEK or tampered row)");
  EXPECT_EQ(UnwrapDiskKey(kek, "blue", "web2", wrapped).status(), refused);
  EXPECT_FALSE(
      UnwrapDiskKey(SecureBytes::Random(32), "blue", "web1", wrapped).ok());
  wrapped[20] ^= 1;
  EXPECT_FALSE(UnwrapDiskKey(kek, "blue", "web1", wrapped).ok());
}

}  // namespace
}  // namespace tvd::master
