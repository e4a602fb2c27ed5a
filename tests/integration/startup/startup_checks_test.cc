// The daemons' start-up checks through their real binaries: a missing key
// file, a key open to others, an unknown config key and a state directory
// of the wrong owner each end the start with exit 1 (2 for a config key)
// and exactly one line on stderr naming the file and the fix; nothing is
// bound or created first (no port file, no socket, no database).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tvd/process.h"
#include "tvd/testing/files.h"
#include "tvd/testing/temp_dir.h"

namespace tvd {
namespace {

const std::string kBin = TVD_BINARY_DIR;

class StartupChecksBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RunChecked({kBin + "/tvdctl/tvdctl", "pki", "init", "--dir",
                            Pki(), "--name", "startup-test"})
                    .ok());
    ASSERT_TRUE(RunChecked({kBin + "/tvdctl/tvdctl", "pki", "issue", "host",
                            "h1", "--dir", Pki(), "--san", "IP:127.0.0.1"})
                    .ok());
  }
  std::string Pki() const { return dir_.File("pki"); }
  std::string File(const std::string& name) const { return dir_.File(name); }
  CommandResult Run(std::vector<std::string> argv) {
    ProcessOptions o;
    o.argv = std::move(argv);
    StatusOr<CommandResult> r = RunCommand(o, std::chrono::seconds(20));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", ""};
  }
  bool Exists(const std::string& path) const {
    return std::filesystem::exists(path);
  }

  testing::TempDir dir_{"startup"};
};

TEST_F(StartupChecksBinaryTest, AMissingKeyFileFailsTheStart) {
  ASSERT_TRUE(
      RunChecked({kBin + "/rm-agent/rm-server", "keygen", File("server")})
          .ok());
  const CommandResult r =
      Run({kBin + "/rm-agent/rm-agent", "--server", "tcp://127.0.0.1:1",
           "--server-key", File("server.pub"), "--key", File("agent"), "--host",
           "h1", "--libvirt-uri", "test:///default"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "error rm-agent: failed-precondition: private key " +
                       File("agent.secret") +
                       " (key) does not exist; fix: create it "
                       "(docs/install.md) or set key to where it is\n");
}

TEST_F(StartupChecksBinaryTest, AKeyOpenToOthersFailsTheRelayBeforeItBinds) {
  const std::string key = Pki() + "/host-h1.key";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  std::filesystem::create_directories(File("policies"));
  testing::WriteTestFile(File("relay.conf"),
                         "listen = 127.0.0.1:0\nca-cert = " + Pki() +
                             "/ca.crt\ncert = " + Pki() +
                             "/host-h1.crt\nkey = " + key +
                             "\npolicy-dir = " + File("policies") + "\n");
  const CommandResult r =
      Run({kBin + "/libvirt-filter/libvirt-filter", "--config",
           File("relay.conf"), "--port-file", File("relay.port")});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "error libvirt-filter: failed-precondition: private key " +
                       key +
                       " (key) has mode 0644, open to group or others; fix: "
                       "chmod 0600 " +
                       key + "\n");
  EXPECT_FALSE(Exists(File("relay.port")));
}

// proxy-factory checks the credentials every tvd-proxy it starts will read:
// a bad key fails the factory, not each later join.
TEST_F(StartupChecksBinaryTest, AProxysKeyOpenToOthersFailsTheFactory) {
  const std::string key = Pki() + "/host-h1.key";
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  const CommandResult r = Run(
      {kBin + "/proxy-factory/proxy-factory", "--socket", File("factory.sock"),
       "--run-dir", File("proxies"), "--proxy-arg=--ca=" + Pki() + "/ca.crt",
       "--proxy-arg=--cert=" + Pki() + "/host-h1.crt",
       "--proxy-arg=--key=" + key});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err,
            "error proxy-factory: failed-precondition: private key " + key +
                " (proxy-arg --key) has mode 0640, open to group or others; "
                "fix: chmod 0600 " +
                key + "\n");
  EXPECT_FALSE(Exists(File("factory.sock")));
  EXPECT_FALSE(Exists(File("proxies")));
}

TEST_F(StartupChecksBinaryTest, AnUnknownConfigKeyFailsTheStart) {
  testing::WriteTestFile(File("rm-server.conf"),
                         "agent-endpoint = tcp://127.0.0.1:0\n"
                         "colour = blue\n");
  const CommandResult r =
      Run({kBin + "/rm-agent/rm-server", "--config", File("rm-server.conf")});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_EQ(r.err, "rm-server: " + File("rm-server.conf") +
                       ":2: unknown key 'colour'; fix: remove the line or "
                       "correct the key (rm-server --help lists the keys)\n");
}

class MasterStartupTest : public StartupChecksBinaryTest {
 protected:
  void SetUp() override {
    StartupChecksBinaryTest::SetUp();
    ASSERT_TRUE(
        RunChecked({kBin + "/tvdctl/tvdctl", "pki", "issue", "host",
                    "tvd-master", "--dir", Pki(), "--san", "IP:127.0.0.1"})
            .ok());
    std::filesystem::create_directories(File("policies"));
    ASSERT_EQ(::mkdir(File("state").c_str(), 0700), 0);
    testing::WriteTestFile(File("master.kek"), std::string(32, 'k'), 0600);
    testing::WriteTestFile(File("eks.txt"), "# none\n");
    conf_ = "listen_address = 127.0.0.1\nlisten_port = 0\nca_cert = " + Pki() +
            "/ca.crt\ncert = " + Pki() +
            "/host-tvd-master.crt\nkey = " + Pki() +
            "/host-tvd-master.key\npolicy_dir = " + File("policies") +
            "\nstate_db = " + File("state/master.db") +
            "\nkek_file = " + File("master.kek") +
            "\nek_allowlist = " + File("eks.txt") + "\n";
  }
  CommandResult RunMaster() {
    return Run({kBin + "/tvd-master/tvd-master", "--config",
                File("master.conf"), "--port-file", File("master.port")});
  }
  std::string conf_;
};

TEST_F(MasterStartupTest, AStateDirectoryOfAnotherOwnerFailsTheStart) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another uid needs root";
  testing::WriteTestFile(File("master.conf"), conf_);
  ASSERT_EQ(::chown(File("state").c_str(), 4242, 4242), 0);
  const CommandResult r = RunMaster();
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "error tvd-master: failed-precondition: state directory " +
                       File("state") + " (the directory of state_db in " +
                       File("master.conf") +
                       ") is owned by uid 4242, not root (uid 0) that this "
                       "daemon runs as; fix: chown -R root " +
                       File("state") + "\n");
  EXPECT_FALSE(Exists(File("state/master.db")));
  EXPECT_FALSE(Exists(File("master.port")));
}

TEST_F(MasterStartupTest, AnUnknownConfigKeyNamesWhereTheKeysAreListed) {
  testing::WriteTestFile(File("master.conf"), conf_ + "colour = blue\n");
  const CommandResult r = RunMaster();
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err,
            "error tvd-master: invalid-argument: " + File("master.conf") +
                ":10: unknown key 'colour'; fix: remove the line or "
                "correct the key (docs/master.md lists the keys)\n");
  EXPECT_FALSE(Exists(File("state/master.db")));
}

// The same files, fit: the master starts (the checks refuse only what is
// wrong), writes its port file and stops on SIGTERM.
TEST_F(MasterStartupTest, FitFilesStart) {
  testing::WriteTestFile(File("master.conf"), conf_);
  ProcessOptions o;
  o.argv = {kBin + "/tvd-master/tvd-master", "--config", File("master.conf"),
            "--port-file", File("master.port")};
  o.stderr_path = File("master.log");
  StatusOr<ChildProcess> child = ChildProcess::Start(o);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE(testing::WaitFor([&] { return Exists(File("master.port")); },
                               std::chrono::seconds(10)))
      << testing::ReadFileOrEmpty(File("master.log"));
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  StatusOr<int> code = child->Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << testing::ReadFileOrEmpty(File("master.log"));
}

}  // namespace
}  // namespace tvd
