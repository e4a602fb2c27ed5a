#include "tvd/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tvd {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/tvd-atomic-file-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
};

TEST_F(AtomicFileTest, WritesAndReplacesTheWholeFile) {
  const std::string path = dir_ + "/port";
  ASSERT_TRUE(WriteFileAtomically(path, "40000\n").ok());
  EXPECT_EQ(Read(path), "40000\n");
  ASSERT_TRUE(WriteFileAtomically(path, "1\n").ok());
  EXPECT_EQ(Read(path), "1\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  // Only the file itself: no temporary left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(AtomicFileTest, MissingDirectoryIsAnIoErrorNamingThePath) {
  const std::string path = dir_ + "/missing/port";
  EXPECT_EQ(WriteFileAtomically(path, "1\n"),
            IoError("cannot create " + path +
                    ".tmp.XXXXXX: No such file or directory"));
}

TEST_F(AtomicFileTest, RenameOntoADirectoryFailsAndLeavesNoTemporary) {
  const std::string path = dir_ + "/taken";
  std::filesystem::create_directories(path + "/inside");
  EXPECT_EQ(WriteFileAtomically(path, "1\n"),
            IoError("cannot rename into " + path + ": Is a directory"));
  EXPECT_TRUE(std::filesystem::is_directory(path));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);
}

}  // namespace
}  // namespace tvd
