// The tvd-master binary: starts from a config file, serves, stops cleanly on
// SIGTERM (exit 0); refuses to start with a KEK file others can read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tvd/pki/certificate_authority.h"
#include "tvd/process.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/testing/files.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/ovsdb_cluster.h"
#include "tvd/testing/port_file.h"
#include "tvd/testing/test_pki.h"
#include "tvd/testing/test_policy.h"

namespace tvd::master {
namespace {

using std::chrono::milliseconds;

class MasterDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-master-daemon-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/policies");
    auto pki = testing::TestPki::Create(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    ASSERT_TRUE(pki->Issue(pki::Role::kHost, "tvd-master", "master").ok());
    auto admin = pki->Issue(pki::Role::kAdmin, "alice", "alice");
    ASSERT_TRUE(admin.ok()) << admin.status();
    Write("master.kek", std::string(32, 'k'), 0600);
    Write("eks.txt", "# none\n", 0644);
    Write("policies/blue.xml",
          Policy("blue", 1, {"node1"}, {Sha256Digest{}}, 60), 0644);
    auto ctx = pki->ClientTls(*admin);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    admin_tls_ = std::move(*ctx);
    // Port 0: the daemon reports the port it bound in its --port-file.
    Write("master.conf", testing::MasterConfigFile::InDir(dir_, 0).Text(),
          0644);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text, mode_t mode) {
    testing::WriteTestFile(dir_ + "/" + name, text, mode);
  }

  // Serves until asked and stops cleanly on SIGTERM; returns the epoch of
  // TVD blue as the admin query shows it.
  StatusOr<int> ServeAndStop() {
    TVD_ASSIGN_OR_RETURN(ChildProcess child, StartDaemon());
    TVD_ASSIGN_OR_RETURN(
        std::uint16_t port,
        testing::WaitForPortFile(dir_ + "/master.port", milliseconds(10000),
                                 child.pid()));
    ::unlink((dir_ + "/master.port").c_str());
    protocol::AdminClient admin(
        {"127.0.0.1", port, {pki::Role::kHost, "tvd-master"}}, *admin_tls_,
        milliseconds(2000));
    StatusOr<std::string> reply = Unavailable("not tried");
    for (int i = 0; i < 100 && !reply.ok(); ++i) {
      std::this_thread::sleep_for(milliseconds(50));
      reply = admin.Query({protocol::AdminQueryKind::kTvd, "blue"});
    }
    TVD_RETURN_IF_ERROR(reply.status());
    auto j = nlohmann::json::parse(*reply);
    TVD_RETURN_IF_ERROR(child.Signal(SIGTERM));
    TVD_ASSIGN_OR_RETURN(int code, child.Wait(milliseconds(10000)));
    if (code != 0) return Internal("exit " + std::to_string(code));
    return j["epoch"].get<int>();
  }

  StatusOr<ChildProcess> StartDaemon() {
    ProcessOptions o;
    o.argv = {std::string(TVD_BINARY_DIR) + "/tvd-master/tvd-master",
              "--config", dir_ + "/master.conf", "--port-file",
              dir_ + "/master.port"};
    o.stderr_path = dir_ + "/stderr.log";
    return ChildProcess::Start(o);
  }

  std::string Stderr() {
    std::ifstream in(dir_ + "/stderr.log");
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  std::string dir_;
  std::unique_ptr<channel::TlsContext> admin_tls_;
};

TEST_F(MasterDaemonTest, ServesAndStopsCleanlyOnSigterm) {
  auto child = StartDaemon();
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  StatusOr<std::uint16_t> port = testing::WaitForPortFile(
      dir_ + "/master.port", milliseconds(10000), child->pid());
  ASSERT_TRUE(port.ok()) << port.status() << "\n" << Stderr();
  protocol::AdminClient admin(
      {"127.0.0.1", *port, {pki::Role::kHost, "tvd-master"}}, *admin_tls_,
      milliseconds(2000));
  StatusOr<std::string> reply = Unavailable("not tried");
  for (int i = 0; i < 100 && !reply.ok(); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    reply = admin.Query({protocol::AdminQueryKind::kTvds, ""});
  }
  ASSERT_TRUE(reply.ok()) << reply.status().ToString() << "\n" << Stderr();
  auto j = nlohmann::json::parse(*reply);
  ASSERT_EQ(j["tvds"].size(), 1u);
  EXPECT_EQ(j["tvds"][0]["name"], "blue");
  EXPECT_EQ(j["tvds"][0]["epoch"], 1);
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  auto code = child->Wait(milliseconds(10000));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0) << Stderr();
}

TEST_F(MasterDaemonTest, RefusesAKekOthersCanRead) {
  ::chmod((dir_ + "/master.kek").c_str(), 0644);
  auto child = StartDaemon();
  ASSERT_TRUE(child.ok());
  auto code = child->Wait(milliseconds(10000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(Stderr().find("KEK file " + dir_ +
                          "/master.kek has mode 0644; it must not be "
                          "readable by group or others"),
            std::string::npos)
      << Stderr();
}

// `store = ovsdb:...`: the daemon keeps its state on a 3-server OVSDB
// cluster; a second run finds it there (the epoch and its key too: the
// replicas of one store share them), and a run with another KEK is
// refused at start-up.
TEST_F(MasterDaemonTest, RunsWithItsStateOnAnOvsdbCluster) {
  auto cluster = testing::OvsdbCluster::StartClustered(
      std::string(TVD_SOURCE_DIR) + "/tvd-master/tvd_master.ovsschema", 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto config = testing::MasterConfigFile::InDir(dir_, 0);
  config.store = "ovsdb:";
  for (const auto& r : (*cluster)->remotes()) {
    config.store += (config.store == "ovsdb:" ? "" : ",") + r;
  }
  Write("master.conf", config.Text(), 0644);
  auto first = ServeAndStop();
  ASSERT_TRUE(first.ok()) << first.status().ToString() << "\n" << Stderr();
  auto second = ServeAndStop();
  ASSERT_TRUE(second.ok()) << second.status().ToString() << "\n" << Stderr();
  EXPECT_EQ(*first, 1);
  EXPECT_EQ(*second, *first);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/master.db"));

  Write("master.kek", std::string(32, 'x'), 0600);
  auto child = StartDaemon();
  ASSERT_TRUE(child.ok());
  auto code = child->Wait(milliseconds(10000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(Stderr().find("was created with another KEK (check value "
                          "differs): this master's KEK cannot unwrap its "
                          "disk keys"),
            std::string::npos)
      << Stderr();
}

}  // namespace
}  // namespace tvd::master
