#include "tvd/pki/pki_directory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tvd/pki/private_file.h"

namespace tvd::pki {
namespace {

class PkiDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-pki-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/pki";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static unsigned ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(PkiDirectoryTest, InitAndIssueWriteKeysPrivately) {
  mode_t old = ::umask(0);  // the most permissive umask must not widen keys
  auto ca = InitCaDirectory(dir_, "vdc");
  auto host = IssueIntoDirectory(dir_, Role::kHost, "node1");
  ::umask(old);
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_EQ(ca->key_path, dir_ + "/ca.key");
  EXPECT_EQ(host->cert_path, dir_ + "/host-node1.crt");
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(ca->key_path), 0600u);
  EXPECT_EQ(ModeOf(host->key_path), 0600u);
  EXPECT_EQ(ModeOf(host->cert_path), 0644u);
}

TEST_F(PkiDirectoryTest, NeverOverwrites) {
  ASSERT_TRUE(InitCaDirectory(dir_, "vdc").ok());
  auto before = ReadSmallFile(dir_ + "/ca.key");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(InitCaDirectory(dir_, "vdc").status(),
            AlreadyExists(dir_ + "/ca.key already exists"));
  EXPECT_EQ(*ReadSmallFile(dir_ + "/ca.key"), *before);
  ASSERT_TRUE(IssueIntoDirectory(dir_, Role::kAdmin, "alice").ok());
  EXPECT_EQ(IssueIntoDirectory(dir_, Role::kAdmin, "alice").status(),
            AlreadyExists(dir_ + "/admin-alice.key already exists"));
}

TEST_F(PkiDirectoryTest, IssueWithoutCaFails) {
  auto r = IssueIntoDirectory(dir_, Role::kHost, "node1");
  EXPECT_EQ(r.status().code(), ErrorCode::kIo);
  EXPECT_EQ(r.status().message(),
            "cannot open " + dir_ + "/ca.key: No such file or directory");
}

TEST_F(PkiDirectoryTest, WriteNewFileRefusesSymlink) {
  ASSERT_EQ(::symlink("/tmp/nowhere-tvd", (root_ + "/link").c_str()), 0);
  const std::uint8_t data[] = {1, 2, 3};
  EXPECT_EQ(WriteNewFile(root_ + "/link", data, 0600).code(),
            ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace tvd::pki
