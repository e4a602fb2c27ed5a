#include "tvd/master/state_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "tvd/attest/ak_registry.h"

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

// The AK clock row only moves forward, whatever order writers arrive in.
TEST_F(StateStoreTest, AkClockOnlyMovesForward) {
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok());
  StateStore& s = **store;
  std::vector<std::uint8_t> ak{0, 11, 5};
  ASSERT_TRUE(s.PutAkClock({ak, 900, 4, 2}).ok());
  ASSERT_TRUE(s.PutAkClock({ak, 800, 4, 2}).ok());   // clock older
  ASSERT_TRUE(s.PutAkClock({ak, 9999, 4, 1}).ok());  // restart older
  ASSERT_TRUE(s.PutAkClock({ak, 9999, 3, 9}).ok());  // reset older
  ASSERT_TRUE(s.PutAkClock({{1}, 7, 1, 0}).ok());
  auto rows = s.ListAkClocks();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  const AkClockRow& row = (*rows)[0];  // ordered by name: {0,..} < {1}
  EXPECT_EQ(row.ak_name, ak);
  EXPECT_EQ(row.clock, 900u);
  EXPECT_EQ(row.reset_count, 4u);
  EXPECT_EQ(row.restart_count, 2u);
  ASSERT_TRUE(s.PutAkClock({ak, 5, 5, 0}).ok());  // a TPM reset: newer
  rows = s.ListAkClocks();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].clock, 5u);
  EXPECT_EQ((*rows)[0].reset_count, 5u);
  EXPECT_EQ((*rows)[1].clock, 7u);
  EXPECT_EQ(s.PutAkClock({ak, std::uint64_t{1} << 63, 5, 0}),
            InvalidArgument("TPM clock 9223372036854775808 is out of range "
                            "for the state db"));
}

// The registry + store pair as the master wires them: the history written
// by one run refuses an older clock in the next run.
TEST_F(StateStoreTest, AkClockHistorySurvivesARestart) {
  std::vector<std::uint8_t> ak{0, 11, 6};
  auto wire = [](attest::AkRegistry& r, StateStore& s) {
    r.SetClockSink([&s](std::span<const std::uint8_t> name,
                        const attest::TpmClockState& st) {
      return s.PutAkClock({{name.begin(), name.end()},
                           st.clock,
                           st.reset_count,
                           st.restart_count});
    });
    auto rows = s.ListAkClocks();
    ASSERT_TRUE(rows.ok());
    for (const AkClockRow& c : *rows)
      r.RestoreClock(c.ak_name, {c.clock, c.reset_count, c.restart_count});
  };
  {
    auto store = StateStore::Open(path_);
    ASSERT_TRUE(store.ok());
    attest::AkRegistry registry;
    wire(registry, **store);
    ASSERT_EQ(registry.AdvanceClock(ak, {1000, 7, 3}), Status::Ok());
    ASSERT_EQ(registry.AdvanceClock(ak, {2000, 7, 3}), Status::Ok());
  }
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok());
  attest::AkRegistry registry;
  wire(registry, **store);
  EXPECT_EQ(registry.AdvanceClock(ak, {1500, 7, 3}),
            Unauthenticated("TPM clock went backwards (1500 after 2000)"));
  EXPECT_EQ(registry.AdvanceClock(ak, {2500, 6, 3}),
            Unauthenticated("TPM reset count went backwards (6 after 7)"));
  EXPECT_EQ(registry.AdvanceClock(ak, {2001, 7, 3}), Status::Ok());
}

// A database from before the clock history existed opens, keeps its rows
// and gains the table.
TEST_F(StateStoreTest, OldDatabaseGetsTheAkClockTable) {
  {
    auto store = StateStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AddAk("node1", {1, 2, 3}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(
      sqlite3_exec(db, "DROP TABLE ak_clocks;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto aks = (*store)->ListAks();
  ASSERT_TRUE(aks.ok());
  EXPECT_EQ(aks->size(), 1u);
  auto clocks = (*store)->ListAkClocks();
  ASSERT_TRUE(clocks.ok()) << clocks.status();
  EXPECT_TRUE(clocks->empty());
  EXPECT_TRUE((*store)->PutAkClock({{1, 2}, 1, 1, 1}).ok());
}

TEST_F(StateStoreTest, QuotaUsageSurvivesARestartAndLeavesWithItsHost) {
  {
    auto store = StateStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    StateStore& s = **store;
    ASSERT_TRUE(s.PutTvd({"blue", "<xml/>", "ab", 1}).ok());
    ASSERT_TRUE(s.PutTvd({"red", "<xml/>", "cd", 1}).ok());
    ASSERT_TRUE(s.AddMember("blue", "node1").ok());
    ASSERT_TRUE(s.AddMember("blue", "node2").ok());
    ASSERT_TRUE(s.PutQuotaUsage({"blue", "node1", {1, 2, 3, 4}}).ok());
    // Replaced, not added to; saturated sums are stored clamped.
    ASSERT_TRUE(
        s.PutQuotaUsage({"blue", "node1", {2, 4, 1024, UINT64_MAX}}).ok());
    ASSERT_TRUE(s.PutQuotaUsage({"blue", "node2", {1, 1, 1, 1}}).ok());
    ASSERT_TRUE(s.PutQuotaUsage({"red", "node1", {5, 5, 5, 5}}).ok());
  }
  auto store = StateStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rows = (*store)->ListQuotaUsage();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].host, "node1");
  EXPECT_EQ((*rows)[0].amounts,
            (policy::QuotaAmounts{2, 4, 1024,
                                  static_cast<std::uint64_t>(INT64_MAX)}));
  ASSERT_TRUE((*store)->RemoveMember("blue", "node1").ok());
  ASSERT_TRUE((*store)->RemoveTvd("red").ok());
  rows = (*store)->ListQuotaUsage();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].tvd, "blue");
  EXPECT_EQ((*rows)[0].host, "node2");
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
