#include "tvd/master/write_journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fakes.h"
#include "tvd/master/store_gate.h"

namespace tvd::master {
namespace {

using testing::FakeStore;

StoreWrite Epoch(const std::string& tvd, std::uint64_t e) {
  return {[=](Store& s) { return s.SetEpoch(tvd, e); }, true,
          "SetEpoch " + tvd};
}

StoreWrite AuditOf(const std::string& subject, bool required) {
  return {[=](Store& s) { return s.Audit("master", "x", subject, true, ""); },
          required, "Audit " + subject};
}

TEST(MasterJournalTest, AppliesInSubmissionOrderThenDelivers) {
  FakeStore store;
  int failures = 0;
  WriteJournal journal(store, [&](const Status&) { ++failures; });
  std::vector<std::string> seen;
  std::mutex mu;
  auto t1 = journal.Submit({Epoch("blue", 2), Epoch("red", 1)}, [&] {
    std::lock_guard lock(mu);
    seen.push_back("after1:" + std::to_string(store.writes().size()));
  });
  auto t2 = journal.Submit({Epoch("blue", 3)}, [&] {
    std::lock_guard lock(mu);
    seen.push_back("after2:" + std::to_string(store.writes().size()));
  });
  EXPECT_TRUE(journal.Wait(t2).ok());
  EXPECT_TRUE(journal.Wait(t1).ok());
  EXPECT_EQ(store.writes(),
            (std::vector<std::string>{"SetEpoch blue 2", "SetEpoch red 1",
                                      "SetEpoch blue 3"}));
  // Each delivery ran after its own writes and before the next entry's.
  EXPECT_EQ(seen, (std::vector<std::string>{"after1:2", "after2:3"}));
  EXPECT_EQ(failures, 0);
}

TEST(MasterJournalTest, ARequiredFailureStopsEverythingAfterIt) {
  FakeStore store;
  std::vector<Status> failures;
  WriteJournal journal(store, [&](const Status& s) { failures.push_back(s); });
  store.FailNext("SetEpoch", IoError("state db x: disk I/O error"));
  bool delivered = false;
  auto t1 = journal.Submit({Epoch("blue", 2)}, [&] { delivered = true; });
  EXPECT_EQ(journal.Wait(t1), IoError("state db x: disk I/O error"));
  EXPECT_FALSE(delivered);  // nothing built on the lost write leaves
  auto t2 = journal.Submit({Epoch("blue", 3)}, [&] { delivered = true; });
  EXPECT_EQ(journal.Wait(t2),
            IoError("state store failed earlier: state db x: disk I/O error"));
  EXPECT_FALSE(delivered);
  EXPECT_TRUE(store.writes().empty());
  EXPECT_EQ(failures,
            (std::vector<Status>{IoError("state db x: disk I/O error")}));
}

TEST(MasterJournalTest, ALostBestEffortAuditRowIsOnlyLogged) {
  FakeStore store;
  WriteJournal journal(store, {});
  store.FailNext("Audit", IoError("state db x: full"));
  bool delivered = false;
  EXPECT_TRUE(journal
                  .Apply({AuditOf("a", false), Epoch("blue", 2)},
                         [&] { delivered = true; })
                  .ok());
  EXPECT_TRUE(delivered);
  EXPECT_EQ(store.writes(), (std::vector<std::string>{"SetEpoch blue 2"}));
}

TEST(MasterJournalTest, AnIsolatedFailureFailsOnlyItsEntry) {
  FakeStore store;
  int failures = 0;
  WriteJournal journal(store, [&](const Status&) { ++failures; });
  store.FailNext("Audit", IoError("state db x: busy"));
  StoreWrite w = AuditOf("key", true);
  w.isolated = true;
  EXPECT_EQ(journal.Apply({w}, {}), IoError("state db x: busy"));
  EXPECT_TRUE(journal.Apply({Epoch("blue", 2)}, {}).ok());
  EXPECT_EQ(failures, 0);
}

// Cut off from the store (the gate closed): entries fail with the gate's
// error without touching the store, and the journal does not stop; once
// the gate opens again, entries are written as before.
TEST(MasterJournalTest, AClosedGateFailsEntriesWithoutStoppingTheJournal) {
  FakeStore store;
  int failures = 0;
  StoreGate gate;
  WriteJournal journal(
      store, [&](const Status&) { ++failures; }, [&] { return gate.Check(); });
  gate.Close(
      "master cut off from its store: no leader confirmed for 2600 "
      "ms (store_failover_ms 2500)");
  bool delivered = false;
  EXPECT_EQ(journal.Apply({Epoch("blue", 2)}, [&] { delivered = true; }),
            Unavailable("master cut off from its store: no leader confirmed "
                        "for 2600 ms (store_failover_ms 2500)"));
  EXPECT_FALSE(delivered);
  EXPECT_TRUE(store.writes().empty());
  gate.Open();
  EXPECT_TRUE(
      journal.Apply({Epoch("blue", 3)}, [&] { delivered = true; }).ok());
  EXPECT_TRUE(delivered);
  EXPECT_EQ(store.writes(), (std::vector<std::string>{"SetEpoch blue 3"}));
  EXPECT_EQ(failures, 0);
}

// A required write that fails while the gate is closed (a store call cut
// short by it) fails its entry only: the master reloads from the store
// when it is back.
TEST(MasterJournalTest, AWriteFailingWhileTheGateIsClosedDoesNotStopIt) {
  FakeStore store;
  int failures = 0;
  StoreGate gate;
  WriteJournal journal(
      store, [&](const Status&) { ++failures; }, [&] { return gate.Check(); });
  StoreWrite cut{[&](Store&) {
                   gate.Close("master cut off from its store: x");
                   return Unavailable("master cut off from its store: x");
                 },
                 true, "cut"};
  EXPECT_EQ(journal.Apply({cut}, {}),
            Unavailable("master cut off from its store: x"));
  gate.Open();
  EXPECT_TRUE(journal.Apply({Epoch("blue", 2)}, {}).ok());
  EXPECT_EQ(failures, 0);
  // Without the gate closed, the same failure stops the journal.
  StoreWrite lost{
      [](Store&) { return IoError("state store: no transaction completed"); },
      true, "lost"};
  EXPECT_EQ(journal.Apply({lost}, {}),
            IoError("state store: no transaction completed"));
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(journal.Apply({Epoch("blue", 3)}, {}),
            IoError("state store failed earlier: state store: no transaction "
                    "completed"));
}

TEST(MasterJournalTest, SubmittingNeverWaitsForASlowWrite) {
  FakeStore store;
  WriteJournal journal(store, {});
  store.CloseGate();  // the "fsync" hangs
  auto t1 = journal.Submit({Epoch("blue", 2)}, {});
  // A second decision is queued while the first write is still running:
  // deciding does not wait for the disk.
  auto t2 = journal.Submit({Epoch("blue", 3)}, {});
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    EXPECT_TRUE(journal.Wait(t2).ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done);  // not acknowledged before it is durable
  store.OpenGate();
  waiter.join();
  EXPECT_TRUE(journal.Wait(t1).ok());
  EXPECT_EQ(store.writes(),
            (std::vector<std::string>{"SetEpoch blue 2", "SetEpoch blue 3"}));
}

TEST(MasterJournalTest, StopDrainsThenRefuses) {
  FakeStore store;
  WriteJournal journal(store, {});
  auto t1 = journal.Submit({Epoch("blue", 2)}, {});
  journal.Stop();
  EXPECT_TRUE(journal.Wait(t1).ok());
  EXPECT_EQ(journal.Apply({Epoch("blue", 3)}, {}),
            Unavailable("master is stopping"));
  EXPECT_EQ(store.writes(), (std::vector<std::string>{"SetEpoch blue 2"}));
}

}  // namespace
}  // namespace tvd::master
