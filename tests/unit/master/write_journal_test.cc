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

// Batches: the writer holds entry 0 at the store's gate while the test
// queues the rest, so what is queued when it comes back is known.
class MasterJournalBatchTest : public ::testing::Test {
 protected:
  MasterJournalBatchTest() {
    store_.EnableBatches();
    store_.CloseGate();
  }
  // Submits entry 0 and waits until its write waits at the gate.
  WriteJournal::Ticket Hold(WriteJournal& journal) {
    auto t = journal.Submit({Epoch("hold", 1)}, [this] { Delivered("hold"); });
    while (store_.waiting_at_gate() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return t;
  }
  std::function<void()> After(const std::string& name) {
    return [this, name] { Delivered(name); };
  }
  void Delivered(const std::string& name) {
    std::lock_guard lock(mu_);
    delivered_.push_back(name + ":" + std::to_string(store_.writes().size()));
  }
  std::vector<std::string> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }

  FakeStore store_;
  std::mutex mu_;
  std::vector<std::string> delivered_;
};

TEST_F(MasterJournalBatchTest, WhatIsQueuedTogetherIsCommittedOnce) {
  int failures = 0;
  WriteJournal journal(store_, [&](const Status&) { ++failures; });
  auto t0 = Hold(journal);
  std::vector<WriteJournal::Ticket> tickets;
  for (int i = 1; i <= 4; ++i) {
    tickets.push_back(
        journal.Submit({Epoch("blue", static_cast<std::uint64_t>(i)),
                        AuditOf("blue/" + std::to_string(i), false)},
                       After("e" + std::to_string(i))));
  }
  store_.OpenGate();
  EXPECT_TRUE(journal.Wait(t0).ok());
  for (const auto& t : tickets) EXPECT_TRUE(journal.Wait(t).ok());
  EXPECT_EQ(store_.commits(), (std::vector<std::size_t>{1, 4}));
  EXPECT_EQ(store_.writes(),
            (std::vector<std::string>{
                "SetEpoch hold 1", "SetEpoch blue 1", "Audit x blue/1",
                "SetEpoch blue 2", "Audit x blue/2", "SetEpoch blue 3",
                "Audit x blue/3", "SetEpoch blue 4", "Audit x blue/4"}));
  // Every delivery after the one commit of its batch, in order.
  EXPECT_EQ(delivered(), (std::vector<std::string>{"hold:1", "e1:9", "e2:9",
                                                   "e3:9", "e4:9"}));
  EXPECT_EQ(failures, 0);
}

TEST_F(MasterJournalBatchTest, AnEntryTheBatchCannotTakeGoesAloneInItsPlace) {
  store_.RefuseInBatch("PutWrappedDiskKey");
  WriteJournal journal(store_, {});
  auto t0 = Hold(journal);
  auto t1 = journal.Submit({Epoch("blue", 2)}, After("e1"));
  auto t2 =
      journal.Submit({Epoch("blue", 3),
                      {[](Store& s) {
                         return s.PutWrappedDiskKey("blue", "vm1", {1, 2});
                       },
                       true, "PutWrappedDiskKey blue vm1"}},
                     After("e2"));
  auto t3 = journal.Submit({Epoch("blue", 4)}, After("e3"));
  store_.OpenGate();
  for (const auto& t : {t0, t1, t2, t3}) EXPECT_TRUE(journal.Wait(t).ok());
  // e2's SetEpoch joined the batch, and went with e2 when e2 was dropped.
  EXPECT_EQ(store_.commits(), (std::vector<std::size_t>{1, 1, 1}));
  EXPECT_EQ(store_.writes(),
            (std::vector<std::string>{
                "SetEpoch hold 1", "SetEpoch blue 2", "SetEpoch blue 3",
                "PutWrappedDiskKey blue vm1", "SetEpoch blue 4"}));
  EXPECT_EQ(delivered(),
            (std::vector<std::string>{"hold:1", "e1:2", "e2:4", "e3:5"}));
}

TEST_F(MasterJournalBatchTest, ABatchThatFailedToCommitIsAppliedEntryByEntry) {
  int failures = 0;
  WriteJournal journal(store_, [&](const Status&) { ++failures; });
  auto t0 = Hold(journal);
  store_.FailNextCommit(Unavailable("leader changed"));
  auto t1 = journal.Submit({Epoch("blue", 2)}, After("e1"));
  auto t2 = journal.Submit({Epoch("blue", 3)}, After("e2"));
  store_.OpenGate();
  // Entry 0's batch took the failure; nothing of it stayed, and it was
  // written again alone; the next round batches again.
  for (const auto& t : {t0, t1, t2}) EXPECT_TRUE(journal.Wait(t).ok());
  EXPECT_EQ(store_.commits(), (std::vector<std::size_t>{2}));
  EXPECT_EQ(store_.writes(),
            (std::vector<std::string>{"SetEpoch hold 1", "SetEpoch blue 2",
                                      "SetEpoch blue 3"}));
  EXPECT_EQ(delivered(), (std::vector<std::string>{"hold:1", "e1:3", "e2:3"}));
  EXPECT_EQ(failures, 0);
}

// The store names the entry whose precondition failed the commit: those
// before it commit as a batch again, it goes alone, the rest batch on.
TEST_F(MasterJournalBatchTest, TheEntryThatFailedTheCommitGoesAlone) {
  int failures = 0;
  WriteJournal journal(store_, [&](const Status&) { ++failures; });
  auto t0 = Hold(journal);
  // The held entry's batch commits; the next one (e1..e4) fails at e3.
  store_.FailNextCommit(FailedPrecondition("wait failed"), 2, 1);
  std::vector<WriteJournal::Ticket> tickets;
  for (int i = 1; i <= 4; ++i) {
    tickets.push_back(
        journal.Submit({Epoch("blue", static_cast<std::uint64_t>(i))},
                       After("e" + std::to_string(i))));
  }
  store_.OpenGate();
  EXPECT_TRUE(journal.Wait(t0).ok());
  for (const auto& t : tickets) EXPECT_TRUE(journal.Wait(t).ok());
  // e1 and e2 batched again, e3 alone, e4 in a batch of its own.
  EXPECT_EQ(store_.commits(), (std::vector<std::size_t>{1, 2, 1}));
  EXPECT_EQ(store_.writes(),
            (std::vector<std::string>{"SetEpoch hold 1", "SetEpoch blue 1",
                                      "SetEpoch blue 2", "SetEpoch blue 3",
                                      "SetEpoch blue 4"}));
  EXPECT_EQ(delivered(), (std::vector<std::string>{"hold:1", "e1:3", "e2:3",
                                                   "e3:4", "e4:5"}));
  EXPECT_EQ(failures, 0);
}

TEST_F(MasterJournalBatchTest, ATransitionThatLostItsRaceFailsOnlyItsEntry) {
  store_.Seed({"blue", "", "", 1, "t1", {}}, {});
  int failures = 0;
  WriteJournal journal(store_, [&](const Status&) { ++failures; });
  auto t0 = Hold(journal);
  auto t1 = journal.Submit({Epoch("red", 2)}, After("e1"));
  TvdTransition lost;
  lost.tvd = "blue";
  lost.expect_token = "t0";  // another master moved it on
  lost.add_members = {"node1"};
  StoreWrite w{[lost](Store& s) { return s.Transition(lost); }, true,
               Describe(lost)};
  w.transition_of = "blue";
  auto t2 = journal.Submit({w}, After("e2"));
  auto t3 = journal.Submit({Epoch("red", 3)}, After("e3"));
  store_.OpenGate();
  EXPECT_TRUE(journal.Wait(t0).ok());
  EXPECT_TRUE(journal.Wait(t1).ok());
  EXPECT_EQ(journal.Wait(t2),
            FailedPrecondition("TVD blue changed on another master"));
  EXPECT_TRUE(journal.Wait(t3).ok());
  EXPECT_EQ(store_.writes(),
            (std::vector<std::string>{"SetEpoch hold 1", "SetEpoch red 2",
                                      "SetEpoch red 3"}));
  EXPECT_EQ(delivered(), (std::vector<std::string>{"hold:1", "e1:2", "e3:3"}));
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace tvd::master
