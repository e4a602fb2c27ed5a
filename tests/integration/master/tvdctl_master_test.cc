// `tvdctl master status` (the real binary) against real tvd-master
// processes:
//  - one master on SQLite: up, holds the duty (no lock needed), store
//    sqlite, no store role;
//  - two masters on one 3-server OVSDB cluster (store = ovsdb:...) and an
//    address where nobody listens: exactly one master holds the lock
//    tvd_master_duties, both report the cluster leader and its commit
//    index, the third line is down with "connection refused"; the holder
//    killed (kill -9, by PID): the other holds within lock_takeover_ms and
//    the killed one is a down line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "tvd/pki/certificate_authority.h"
#include "tvd/process.h"
#include "tvd/testing/files.h"
#include "tvd/testing/free_port.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/ovsdb_cluster.h"
#include "tvd/testing/port_file.h"
#include "tvd/testing/test_pki.h"
#include "tvd/testing/test_policy.h"

namespace tvd::master {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kTakeoverMs = 3000;

class TvdctlMasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvdctl-master-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/policies");
    auto pki = testing::TestPki::Create(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    ASSERT_TRUE(pki->Issue(pki::Role::kHost, "tvd-master", "master").ok());
    ASSERT_TRUE(pki->Issue(pki::Role::kAdmin, "alice", "alice").ok());
    Write("master.kek", std::string(32, 'k'), 0600);
    Write("eks.txt", "# none\n", 0644);
    Write("policies/blue.xml",
          Policy("blue", 1, {"node1"}, {Sha256Digest{}}, 60), 0644);
    Write("admin.conf",
          "ca = " + dir_ + "/ca.pem\ncert = " + dir_ +
              "/alice.pem\nkey = " + dir_ + "/alice.key\n",
          0644);
  }
  void TearDown() override {
    for (auto& m : masters_) (void)m.Stop();
    masters_.clear();
    std::filesystem::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& text, mode_t mode) {
    testing::WriteTestFile(dir_ + "/" + name, text, mode);
  }

  // Starts tvd-master number `i` with `store` ("" for SQLite); returns
  // its "127.0.0.1:PORT".
  StatusOr<std::string> StartMaster(int i, const std::string& store) {
    auto config = testing::MasterConfigFile::InDir(dir_, 0);
    config.store = store;
    config.state_db = store.empty() ? dir_ + "/master.db" : "";
    std::string n = std::to_string(i);
    TVD_RETURN_IF_ERROR(
        testing::WriteMasterConfig(dir_ + "/master" + n + ".conf", config));
    ProcessOptions o;
    o.argv = {std::string(TVD_BINARY_DIR) + "/tvd-master/tvd-master",
              "--config", dir_ + "/master" + n + ".conf", "--port-file",
              dir_ + "/master" + n + ".port"};
    o.stderr_path = dir_ + "/master" + n + ".log";
    TVD_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(o));
    TVD_ASSIGN_OR_RETURN(
        std::uint16_t port,
        testing::WaitForPortFile(dir_ + "/master" + n + ".port",
                                 milliseconds(20000), child.pid()));
    masters_.push_back(std::move(child));
    return "127.0.0.1:" + std::to_string(port);
  }

  CommandResult Tvdctl(std::vector<std::string> args) {
    ProcessOptions o;
    o.argv = {std::string(TVD_BINARY_DIR) + "/tvdctl/tvdctl", "master"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {"TVDCTL_ADMIN_CONFIG=" + dir_ + "/admin.conf"};
    auto r = RunCommand(o, milliseconds(30000));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", ""};
  }

  json StatusJson(const std::vector<std::string>& masters) {
    std::vector<std::string> args = {"status", "--json"};
    for (const auto& m : masters) {
      args.push_back("--master");
      args.push_back(m);
    }
    CommandResult r = Tvdctl(args);
    EXPECT_EQ(r.exit_status, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  std::string dir_;
  std::vector<ChildProcess> masters_;
};

TEST_F(TvdctlMasterTest, OneMasterOnSqliteHoldsTheDuty) {
  auto m = StartMaster(0, "");
  ASSERT_TRUE(m.ok()) << m.status();
  json j;
  for (int i = 0; i < 100; ++i) {
    j = StatusJson({*m});
    if (j["masters"][0]["up"] == true &&
        j["masters"][0]["status"]["duties"]["held"] == true)
      break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  const json& s = j["masters"][0]["status"];
  EXPECT_EQ(s["store"], "sqlite");
  EXPECT_EQ(s["duties"]["running"], true);
  EXPECT_EQ(s["duties"]["held"], true);
  EXPECT_EQ(s["duties"]["lock_takeover_ms"], 3000);
  EXPECT_TRUE(s["lock"].is_null());
  EXPECT_TRUE(s["store_server"].is_null());
  EXPECT_EQ(s["members"], 0);

  CommandResult table = Tvdctl({"status", "--master", *m});
  ASSERT_EQ(table.exit_status, 0) << table.err;
  EXPECT_EQ(table.out,
            "MASTER" + std::string(m->size() - 6 + 2, ' ') +
                "STATE  LOCK  CHANNELS  STORE   ROLE  INDEX  NOTE\n" + *m +
                "  up     yes   0/0       sqlite  -     -\n");
}

TEST_F(TvdctlMasterTest, TwoMastersOnOvsdbOneHoldsTheLockAndTheOtherTakesOver) {
  auto cluster = testing::OvsdbCluster::StartClustered(
      std::string(TVD_SOURCE_DIR) + "/tvd-master/tvd_master.ovsschema", 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::string store = "ovsdb:";
  for (const auto& r : (*cluster)->remotes()) {
    store += (store == "ovsdb:" ? "" : ",") + r;
  }
  auto a = StartMaster(0, store);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = StartMaster(1, store);
  ASSERT_TRUE(b.ok()) << b.status();
  auto free_port = testing::FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok());
  std::string down = "127.0.0.1:" + std::to_string(*free_port);

  // Wait until one of the two holds.
  json j;
  int holder = -1;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (holder < 0 && Clock::now() < deadline) {
    j = StatusJson({*a + "," + *b, down});
    for (int i = 0; i < 2; ++i) {
      if (j["masters"][i]["status"]["duties"]["held"] == true) holder = i;
    }
    if (holder < 0) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(holder, 0) << j.dump(2);
  ASSERT_EQ(j["masters"].size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const json& m = j["masters"][i];
    EXPECT_EQ(m["address"], i == 0 ? *a : *b);
    EXPECT_EQ(m["up"], true);
    EXPECT_EQ(m["status"]["store"], "ovsdb");
    EXPECT_EQ(m["status"]["duties"]["held"], i == holder) << j.dump(2);
    EXPECT_EQ(m["status"]["lock"]["name"], "tvd_master_duties");
    // Both talk to the leader: the lock waits there too.
    EXPECT_EQ(m["status"]["store_server"]["model"], "clustered");
    EXPECT_EQ(m["status"]["store_server"]["leader"], true);
    EXPECT_TRUE(m["status"]["store_server"]["index"].is_number_integer());
  }
  EXPECT_EQ(j["masters"][2], (json{{"address", down},
                                   {"up", false},
                                   {"error", "connection refused"}}));

  CommandResult table =
      Tvdctl({"status", "--master", *a, "--master", *b + "," + down});
  ASSERT_EQ(table.exit_status, 0) << table.err;
  std::string holder_addr = holder == 0 ? *a : *b;
  EXPECT_NE(
      table.out.find(holder_addr + "  up     yes   0/0       ovsdb  leader  "),
      std::string::npos)
      << table.out;
  EXPECT_NE(
      table.out.find(down + "  down   -     -         -      -       -      "
                            "connection refused\n"),
      std::string::npos)
      << table.out;

  // The holder dies: the other takes over within the bound.
  ChildProcess& dying = masters_[static_cast<std::size_t>(holder)];
  auto killed = Clock::now();
  ASSERT_TRUE(dying.Signal(SIGKILL).ok());
  ASSERT_TRUE(dying.Wait(std::chrono::seconds(10)).ok());
  int other = 1 - holder;
  bool took_over = false;
  long long took_ms = 0;
  while (Clock::now() - killed < std::chrono::seconds(20)) {
    j = StatusJson({*a, *b});
    if (j["masters"][other]["status"]["duties"]["held"] == true) {
      took_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - killed)
                    .count();
      took_over = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(took_over) << j.dump(2);
  std::printf(
      "master holder killed -> the other master holds after %lld ms "
      "(seen through tvdctl)\n",
      took_ms);
  EXPECT_LE(took_ms, kTakeoverMs);
  EXPECT_EQ(j["masters"][holder]["up"], false);
  EXPECT_EQ(j["masters"][holder]["error"], "connection refused");
}

}  // namespace
}  // namespace tvd::master
