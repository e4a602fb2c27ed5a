#include "tvd/master/state_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

namespace tvd::master {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/master.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(StateStoreTest, EverythingSurvivesReopen) {
  {
    auto store = StateStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    StateStore& s = **store;
    ASSERT_TRUE(s.PutTvd({"blue", "<xml/>", "ab", 3}).ok());
    ASSERT_TRUE(s.SetEpoch("blue", 4).ok());
    ASSERT_TRUE(s.UpsertHost("node1", "198.18.0.1").ok());
    ASSERT_TRUE(s.SetAttestation("node1", true, "").ok());
    ASSERT_TRUE(s.SetAttestation("node2", false, "PCR 16 bad").ok());
    ASSERT_TRUE(s.AddMember("blue", "node1").ok());
    ASSERT_TRUE(s.AddMember("blue", "node2").ok());
    ASSERT_TRUE(s.RemoveMember("blue", "node2").ok());
    ASSERT_TRUE(s.SetVm("blue", "node1", "web1", true).ok());
    ASSERT_TRUE(s.AddAk("node1", {1, 2, 3}).ok());
    ASSERT_TRUE(s.PutWrappedDiskKey("blue", "web1", {9, 9}).ok());
    ASSERT_TRUE(s.Audit("host:node1", "join", "blue/node1", true, "").ok());
    ASSERT_TRUE(s.Audit("host:node2", "join", "blue/node2", false, "x").ok());
  }
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok());
  StateStore& s = **store;
  auto tvds = s.ListTvds();
  ASSERT_TRUE(tvds.ok());
  ASSERT_EQ(tvds->size(), 1u);
  EXPECT_EQ((*tvds)[0].epoch, 4u);
  EXPECT_EQ((*tvds)[0].policy_xml, "<xml/>");
  EXPECT_EQ(*s.Members("blue"), std::vector<std::string>{"node1"});
  auto hosts = s.ListHosts();
  ASSERT_EQ(hosts->size(), 2u);
  EXPECT_EQ((*hosts)[0].underlay, "198.18.0.1");
  EXPECT_TRUE((*hosts)[0].attested);
  EXPECT_FALSE((*hosts)[1].attested);
  EXPECT_EQ((*hosts)[1].attestation_reason, "PCR 16 bad");
  ASSERT_EQ(s.Vms("blue")->size(), 1u);
  EXPECT_EQ(s.ListAks()->at(0).second, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(**s.WrappedDiskKey("blue", "web1"),
            (std::vector<std::uint8_t>{9, 9}));
  EXPECT_FALSE(s.WrappedDiskKey("blue", "web2")->has_value());
  auto audit = s.RecentAudit(10);
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].actor, "host:node2");  // newest first
  EXPECT_FALSE((*audit)[0].allowed);
  // A wrapped disk key is never overwritten (disks depend on it).
  EXPECT_FALSE(s.PutWrappedDiskKey("blue", "web1", {1}).ok());
}

TEST_F(StateStoreTest, RemoveTvdRemovesItsRows) {
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok());
  StateStore& s = **store;
  ASSERT_TRUE(s.PutTvd({"red", "<x/>", "cd", 1}).ok());
  ASSERT_TRUE(s.AddMember("red", "n1").ok());
  ASSERT_TRUE(s.SetVm("red", "n1", "vm1", true).ok());
  ASSERT_TRUE(s.RemoveTvd("red").ok());
  EXPECT_TRUE(s.ListTvds()->empty());
  EXPECT_TRUE(s.Members("red")->empty());
  EXPECT_TRUE(s.Vms("red")->empty());
}

TEST_F(StateStoreTest, VmsKeepTheirUuidAndLeaveWithTheirHost) {
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok());
  StateStore& s = **store;
  ASSERT_TRUE(s.PutTvd({"blue", "<x/>", "cd", 1}).ok());
  ASSERT_TRUE(s.AddMember("blue", "n1").ok());
  ASSERT_TRUE(s.AddMember("blue", "n2").ok());
  ASSERT_TRUE(s.SetVm("blue", "n1", "web1", true, "u-1").ok());
  ASSERT_TRUE(s.SetVm("blue", "n1", "web2", true).ok());
  ASSERT_TRUE(s.SetVm("blue", "n2", "db1", true, "u-3").ok());
  auto vms = s.Vms("blue");
  ASSERT_TRUE(vms.ok());
  ASSERT_EQ(vms->size(), 3u);  // ordered by VM name
  EXPECT_EQ((*vms)[0].vm, "db1");
  EXPECT_EQ((*vms)[0].host, "n2");
  EXPECT_EQ((*vms)[0].uuid, "u-3");
  EXPECT_EQ((*vms)[1].uuid, "u-1");
  EXPECT_EQ((*vms)[2].uuid, "");
  // A detach reported by another host leaves the row alone.
  ASSERT_TRUE(s.SetVm("blue", "n2", "web1", false).ok());
  EXPECT_EQ(s.Vms("blue")->size(), 3u);
  ASSERT_TRUE(s.SetVm("blue", "n1", "web2", false).ok());
  EXPECT_EQ(s.Vms("blue")->size(), 2u);
  // Leaving (or eviction) takes the host's VMs with it, not the others'.
  ASSERT_TRUE(s.RemoveMember("blue", "n1").ok());
  vms = s.Vms("blue");
  ASSERT_EQ(vms->size(), 1u);
  EXPECT_EQ((*vms)[0].vm, "db1");
}

TEST_F(StateStoreTest, OldDatabaseGetsTheVmUuidColumn) {
  {
    auto store = StateStore::Open(path_);
    ASSERT_TRUE(store.ok());
  }
  // Rebuild the vms table as it was before VM UUIDs were stored.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db,
                         "DROP TABLE vms; CREATE TABLE vms(tvd TEXT NOT NULL, "
                         "host TEXT NOT NULL, vm TEXT NOT NULL, PRIMARY "
                         "KEY(tvd, vm)); INSERT INTO vms "
                         "VALUES('blue','n1','old');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto vms = (*store)->Vms("blue");
  ASSERT_TRUE(vms.ok()) << vms.status();
  ASSERT_EQ(vms->size(), 1u);
  EXPECT_EQ((*vms)[0].uuid, "");
  EXPECT_TRUE((*store)->SetVm("blue", "n1", "new", true, "u").ok());
}

TEST_F(StateStoreTest, UnopenablePathIsAnIoError) {
  auto store = StateStore::Open(dir_ + "/missing/dir/master.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kIo);
  EXPECT_NE(store.status().message().find(dir_ + "/missing/dir/master.db"),
            std::string::npos);
}

}  // namespace
}  // namespace tvd::master
