#include "tvd/daemon/startup_checks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tvd/testing/files.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::daemon {
namespace {

// A uid with no passwd entry, for files owned by someone else.
constexpr uid_t kStranger = 4242;

class StartupChecksTest : public ::testing::Test {
 protected:
  std::string Me() const { return DescribeUid(::geteuid()); }
  // The effective user's name as chown takes it.
  std::string MyName() const {
    const std::string me = Me();
    const std::size_t paren = me.find(" (uid ");
    return paren == std::string::npos ? me.substr(4) : me.substr(0, paren);
  }
  // chown to another uid needs root (CAP_CHOWN).
  bool CanChown() const { return ::geteuid() == 0; }

  testing::TempDir dir_;
};

TEST_F(StartupChecksTest, DescribesUids) {
  EXPECT_EQ(DescribeUid(0), "root (uid 0)");
  EXPECT_EQ(DescribeUid(kStranger), "uid 4242");
}

TEST_F(StartupChecksTest, APrivateKeyOfTheDaemonsUserWithMode0600Passes) {
  const std::string key = dir_.File("host.key");
  testing::WriteTestFile(key, "PEM", 0600);
  EXPECT_TRUE(CheckPrivateKeyFile(key, "--key").ok());
  ::chmod(key.c_str(), 0400);
  EXPECT_TRUE(CheckPrivateKeyFile(key, "--key").ok());
}

TEST_F(StartupChecksTest, AMissingKeyFileNamesTheFileAndTheSetting) {
  const std::string key = dir_.File("host.key");
  EXPECT_EQ(CheckPrivateKeyFile(key, "--key"),
            FailedPrecondition("private key " + key +
                               " (--key) does not exist; fix: create it "
                               "(docs/install.md) or set --key to where it "
                               "is"));
  EXPECT_EQ(CheckPrivateKeyFile(dir_.File("no/dir/k"), "key in /etc/m.conf"),
            FailedPrecondition("private key " + dir_.File("no/dir/k") +
                               " (key in /etc/m.conf) does not exist; fix: "
                               "create it (docs/install.md) or set key in "
                               "/etc/m.conf to where it is"));
}

TEST_F(StartupChecksTest, LoosePermissionsOnAKeyAreRefused) {
  const std::string key = dir_.File("host.key");
  testing::WriteTestFile(key, "PEM", 0644);
  EXPECT_EQ(CheckPrivateKeyFile(key, "--key"),
            FailedPrecondition("private key " + key +
                               " (--key) has mode 0644, open to group or "
                               "others; fix: chmod 0600 " +
                               key));
  ::chmod(key.c_str(), 0640);
  EXPECT_EQ(CheckPrivateKeyFile(key, "--key").message(),
            "private key " + key +
                " (--key) has mode 0640, open to group or others; fix: chmod "
                "0600 " +
                key);
  ::chmod(key.c_str(), 0601);
  EXPECT_FALSE(CheckPrivateKeyFile(key, "--key").ok());
}

TEST_F(StartupChecksTest, AKeyOfAnotherUserIsRefused) {
  if (!CanChown()) GTEST_SKIP() << "chown to another uid needs root";
  const std::string key = dir_.File("host.key");
  testing::WriteTestFile(key, "PEM", 0600);
  ASSERT_EQ(::chown(key.c_str(), kStranger, kStranger), 0);
  EXPECT_EQ(CheckPrivateKeyFile(key, "--key"),
            FailedPrecondition("private key " + key +
                               " (--key) is owned by uid 4242, not " + Me() +
                               " that this daemon runs as; fix: chown " +
                               MyName() + " " + key));
}

TEST_F(StartupChecksTest, AKeyThatIsNotAFileIsRefused) {
  EXPECT_EQ(CheckPrivateKeyFile(dir_.path(), "--key"),
            FailedPrecondition("private key " + dir_.path() +
                               " (--key) is not a regular file; fix: set "
                               "--key to the key file"));
}

TEST_F(StartupChecksTest, ReadableFiles) {
  const std::string cert = dir_.File("host.crt");
  EXPECT_EQ(CheckReadableFile(cert, "--cert"),
            FailedPrecondition("file " + cert +
                               " (--cert) does not exist; fix: create it "
                               "(docs/install.md) or set --cert to where it "
                               "is"));
  testing::WriteTestFile(cert, "PEM", 0644);
  EXPECT_TRUE(CheckReadableFile(cert, "--cert").ok());
  EXPECT_EQ(CheckReadableFile(dir_.path(), "--cert"),
            FailedPrecondition("file " + dir_.path() +
                               " (--cert) is not a regular file; fix: set "
                               "--cert to the file"));
}

TEST_F(StartupChecksTest, AnUnreadableFileIsRefusedForAnUnprivilegedUser) {
  // root reads whatever the mode says: as root, the check runs with the
  // effective uid of an unprivileged one (the saved uid brings root back).
  const std::string cert = dir_.File("host.crt");
  testing::WriteTestFile(cert, "PEM", 0200);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
    ASSERT_EQ(::seteuid(kStranger), 0);
  }
  const std::string me = Me();
  const Status s = CheckReadableFile(cert, "--cert");
  if (root) {
    ASSERT_EQ(::seteuid(0), 0);
  }
  EXPECT_EQ(s, FailedPrecondition("file " + cert +
                                  " (--cert) is not "
                                  "readable by " +
                                  me + "; fix: chmod 0644 " + cert));
}

TEST_F(StartupChecksTest, StateDirectories) {
  const std::string state = dir_.File("state");
  EXPECT_EQ(CheckStateDirectory(state, "--state-dir"),
            FailedPrecondition("state directory " + state +
                               " (--state-dir) does not exist; fix: "
                               "systemd-tmpfiles --create tvd.conf, or mkdir "
                               "-m 0700 " +
                               state + " and chown " + MyName() + " " + state));
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  EXPECT_TRUE(CheckStateDirectory(state, "--state-dir").ok());
  ::chmod(state.c_str(), 0750);
  EXPECT_TRUE(CheckStateDirectory(state, "--state-dir").ok());
  ::chmod(state.c_str(), 0777);
  EXPECT_EQ(CheckStateDirectory(state, "--state-dir"),
            FailedPrecondition("state directory " + state +
                               " (--state-dir) has mode 0777, writable by "
                               "group or others; fix: chmod 0700 " +
                               state));
  testing::WriteTestFile(dir_.File("file"), "", 0600);
  EXPECT_EQ(CheckStateDirectory(dir_.File("file"), "--state-dir"),
            FailedPrecondition("state directory " + dir_.File("file") +
                               " (--state-dir) is not a directory; fix: set "
                               "--state-dir to a directory"));
}

TEST_F(StartupChecksTest, AStateDirectoryOfAnotherUserIsRefused) {
  if (!CanChown()) GTEST_SKIP() << "chown to another uid needs root";
  const std::string state = dir_.File("state");
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  ASSERT_EQ(::chown(state.c_str(), kStranger, kStranger), 0);
  EXPECT_EQ(
      CheckStateDirectory(state, "the directory of state_db in /m.conf"),
      FailedPrecondition("state directory " + state +
                         " (the directory of state_db in /m.conf) is "
                         "owned by uid 4242, not " +
                         Me() + " that this daemon runs as; fix: chown -R " +
                         MyName() + " " + state));
}

TEST_F(StartupChecksTest, ConfigErrorsGainTheirFix) {
  EXPECT_EQ(WithConfigFix(InvalidArgument("/etc/tvd/a.conf:3: unknown key "
                                          "'colour'"),
                          "rm-agent --help"),
            InvalidArgument("/etc/tvd/a.conf:3: unknown key 'colour'; fix: "
                            "remove the line or correct the key (rm-agent "
                            "--help lists the keys)"));
  EXPECT_EQ(WithConfigFix(InvalidArgument("/etc/tvd/m.conf: missing key "
                                          "'kek_file'"),
                          "docs/master.md"),
            InvalidArgument("/etc/tvd/m.conf: missing key 'kek_file'; fix: "
                            "add 'kek_file = ...' (docs/master.md lists the "
                            "keys)"));
  const Status other = InvalidArgument(
      "/etc/tvd/a.conf:1: expected 'key = "
      "value'");
  EXPECT_EQ(WithConfigFix(other, "x"), other);
  // Said once: an error that already has its fix keeps it.
  const Status fixed = InvalidArgument("/a.conf:1: unknown key 'k'; fix: y");
  EXPECT_EQ(WithConfigFix(fixed, "x"), fixed);
  EXPECT_EQ(WithConfigFix(Status::Ok(), "x"), Status::Ok());
}

}  // namespace
}  // namespace tvd::daemon
