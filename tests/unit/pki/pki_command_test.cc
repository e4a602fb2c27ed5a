#include "tvd/tvdctl/pki_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

namespace tvd::tvdctl {
namespace {

class PkiCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-pkicmd-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/ca";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunPkiCommand(args, out_, err_);
  }

  std::string root_, dir_;
  std::ostringstream out_, err_;
};

TEST_F(PkiCommandTest, InitThenIssueEachRole) {
  EXPECT_EQ(Run({"init", "--dir", dir_, "--name", "vdc1"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "created CA " + dir_ + "/ca.crt (key " + dir_ + "/ca.key)\n");
  for (std::string role : {"host", "admin", "tenant"}) {
    EXPECT_EQ(Run({"issue", role, "n1", "--dir", dir_}), 0) << err_.str();
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/" + role + "-n1.key"));
  }
}

TEST_F(PkiCommandTest, IssueWithSubjectAltNames) {
  ASSERT_EQ(Run({"init", "--dir", dir_}), 0) << err_.str();
  EXPECT_EQ(Run({"issue", "host", "relay", "--dir", dir_, "--san",
                 "IP:127.0.0.1", "--san=DNS:relay.vdc"}),
            0)
      << err_.str();
  EXPECT_EQ(Run({"issue", "host", "r2", "--dir", dir_, "--san", "x"}), 2);
  EXPECT_NE(err_.str().find("tvdctl pki: subject alternative name 'x' must "
                            "start with DNS: or IP:"),
            std::string::npos)
      << err_.str();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/host-r2.key"));
}

TEST_F(PkiCommandTest, HelpAndUsageErrors) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_NE(out_.str().find("usage: tvdctl pki init"), std::string::npos);
  EXPECT_EQ(Run({}), 2);
  EXPECT_EQ(err_.str().substr(0, 33), "tvdctl pki: missing subcommand\nus");
  EXPECT_EQ(Run({"init"}), 2);
  EXPECT_EQ(err_.str().substr(0, 34), "tvdctl pki: init needs --dir DIR\nu");
  EXPECT_EQ(Run({"issue", "root", "x", "--dir", dir_}), 2);
  EXPECT_EQ(err_.str().substr(0, 64),
            "tvdctl pki: unknown role 'root' (expected host, admin or tenant)");
  EXPECT_EQ(Run({"issue", "host", "--dir", dir_}), 2);
  EXPECT_EQ(Run({"frobnicate"}), 2);
  EXPECT_EQ(Run({"init", "--dir"}), 2);
  EXPECT_EQ(Run({"init", "--bogus"}), 2);
}

TEST_F(PkiCommandTest, OperationalFailuresExitOne) {
  EXPECT_EQ(Run({"issue", "host", "n1", "--dir", dir_}), 1);
  EXPECT_EQ(err_.str(), "tvdctl pki: cannot open " + dir_ +
                            "/ca.key: No such file or directory\n");
  ASSERT_EQ(Run({"init", "--dir", dir_}), 0);
  EXPECT_EQ(Run({"init", "--dir", dir_}), 1);
  EXPECT_EQ(err_.str(), "tvdctl pki: " + dir_ + "/ca.key already exists\n");
  EXPECT_EQ(Run({"issue", "host", "bad/name", "--dir", dir_}), 1);
  EXPECT_EQ(err_.str(), "tvdctl pki: invalid host name 'bad/name'\n");
}

}  // namespace
}  // namespace tvd::tvdctl
