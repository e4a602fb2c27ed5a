// OvsdbLock against real ovsdb-servers (tests/fixture/ovsdb_cluster: each
// test starts its own servers in private directories and namespaces and
// stops them by PID):
//  - on a standalone server: one of two clients holds; the other's fenced
//    write is refused by the server (assert "not owner") and writes
//    nothing; the holder's fenced write commits; the holder closed
//    abruptly -> the other holds within the takeover bound;
//  - on a 3-server Raft cluster: three clients; the holder closed, then the
//    leader killed (kill -9): another client holds within the bound each
//    time, and at no sample do two clients hold at once;
//  - a holder whose lock is stolen by another session (a raw client that
//    sends "steal") stops holding at once, and its fenced write is refused
//    by the server;
//  - the store's fenced TVD transitions (the deadline duty's evictions):
//    a replica that does not hold the lock (refused by itself, or by the
//    server's assert) evicts nobody and writes nothing; the holder's
//    eviction commits.
#include "tvd/master/ovsdb_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tvd/master/ovsdb_store.h"
#include "tvd/testing/ovsdb_cluster.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"
#include "tvd/vswitch/ovsdb/unix_stream.h"

namespace tvd::testing {
namespace {

using master::OvsdbLock;
using master::OvsdbLockOptions;
using std::chrono::milliseconds;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const std::string kSchema =
    std::string(TVD_SOURCE_DIR) + "/tvd-master/tvd_master.ovsschema";
constexpr milliseconds kTakeover{3000};
// The test clusters run with this election timer (set on start).
constexpr milliseconds kElection{500};

std::unique_ptr<OvsdbLock> StartLock(const std::vector<std::string>& remotes) {
  OvsdbLockOptions o = OvsdbLockOptions::ForTakeover(kTakeover, kElection);
  o.remotes = remotes;
  o.lock_name = "tvd_master_duties";
  auto lock = OvsdbLock::Start(o);
  EXPECT_TRUE(lock.ok()) << lock.status().ToString();
  return lock.ok() ? std::move(lock).value() : nullptr;
}

Json InsertHost(const std::string& name) {
  return Json::array({{{"op", "insert"},
                       {"table", "Host"},
                       {"row", {{"name", name}, {"underlay", ""}}}}});
}

// Which of `locks` hold now; records a sample where more than one does.
class HolderWatch {
 public:
  explicit HolderWatch(std::vector<OvsdbLock*> locks)
      : locks_(std::move(locks)), thread_([this] { Run(); }) {}
  ~HolderWatch() {
    stop_ = true;
    thread_.join();
  }
  int double_holders() const { return doubles_; }

  // Index of the one lock that holds, waiting up to `wait`; -1 if none.
  int WaitForHolder(milliseconds wait) {
    auto deadline = Clock::now() + wait;
    while (Clock::now() < deadline) {
      for (std::size_t i = 0; i < locks_.size(); ++i) {
        if (locks_[i] && locks_[i]->held()) return static_cast<int>(i);
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
    return -1;
  }
  void Forget(int i) {
    std::lock_guard<std::mutex> g(mu_);
    locks_[static_cast<std::size_t>(i)] = nullptr;
  }

 private:
  void Run() {
    while (!stop_) {
      {
        std::lock_guard<std::mutex> g(mu_);
        int n = 0;
        for (OvsdbLock* l : locks_) n += l && l->held();
        if (n > 1) ++doubles_;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  std::mutex mu_;
  std::vector<OvsdbLock*> locks_;
  std::atomic<bool> stop_{false};
  std::atomic<int> doubles_{0};
  std::thread thread_;
};

StatusOr<std::unique_ptr<OvsdbCluster>> Cluster() {
  TVD_ASSIGN_OR_RETURN(auto c, OvsdbCluster::StartClustered(kSchema, 3));
  TVD_ASSIGN_OR_RETURN(int leader, c->WaitForLeader());
  TVD_RETURN_IF_ERROR(
      c->Appctl(leader, {"cluster/change-election-timer", "TVD_Master",
                         std::to_string(kElection.count())})
          .status());
  return c;
}

TEST(OvsdbLockTest, StandaloneOneHoldsOtherIsFencedThenTakesOver) {
  auto cluster = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto a = StartLock((*cluster)->remotes());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->WaitHeld(milliseconds(5000)).ok());
  auto b = StartLock((*cluster)->remotes());
  ASSERT_TRUE(b);
  // B is queued behind A: not held, and the server refuses its fenced
  // write (B skips its own check to show the store's).
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(b->held());
  auto refused =
      b->TransactFenced(InsertHost("by-b"), OvsdbLock::Check::kServerOnly);
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(refused.status().message().starts_with(
      "OVSDB lock 'tvd_master_duties' is not held by this replica: the server "
      "refused the assert: not owner"))
      << refused.status().ToString();
  EXPECT_EQ(b->TransactFenced(InsertHost("by-b")).status().ToString(),
            "failed-precondition: OVSDB lock 'tvd_master_duties' is not held "
            "by this replica");
  auto written = a->TransactFenced(InsertHost("by-a"));
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_EQ(written->size(), 1u);
  EXPECT_TRUE((*written)[0].contains("uuid"));
  auto rows = (*cluster)->Transact(
      0,
      R"(["TVD_Master",{"op":"select","table":"Host","where":[],"columns":["name"]}])");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_NE(rows->find("by-a"), std::string::npos);
  EXPECT_EQ(rows->find("by-b"), std::string::npos) << *rows;

  // A goes away abruptly (its connection closes): B takes over.
  auto closed = Clock::now();
  a.reset();
  ASSERT_TRUE(b->WaitHeld(kTakeover).ok());
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - closed);
  std::printf("standalone: holder closed -> other holds after %lld ms\n",
              static_cast<long long>(took.count()));
  EXPECT_TRUE(b->TransactFenced(InsertHost("by-b")).ok());
}

TEST(OvsdbLockTest, ClusterHolderClosedThenLeaderKilled) {
  auto cluster = Cluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  OvsdbCluster& c = **cluster;
  std::vector<std::unique_ptr<OvsdbLock>> locks;
  for (int i = 0; i < 3; ++i) {
    // Each client lists the servers starting at a different one.
    std::vector<std::string> r = c.remotes();
    std::rotate(r.begin(), r.begin() + i, r.end());
    locks.push_back(StartLock(r));
    ASSERT_TRUE(locks.back());
  }
  HolderWatch watch({locks[0].get(), locks[1].get(), locks[2].get()});
  int holder = watch.WaitForHolder(milliseconds(10000));
  ASSERT_GE(holder, 0);
  std::string leader_remote = locks[static_cast<std::size_t>(holder)]->remote();
  auto leader = c.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  EXPECT_EQ(leader_remote, c.remotes()[static_cast<std::size_t>(*leader)]);

  // 1. The holder closes abruptly.
  watch.Forget(holder);
  auto closed = Clock::now();
  locks[static_cast<std::size_t>(holder)].reset();
  int next = watch.WaitForHolder(kTakeover);
  ASSERT_GE(next, 0) << "nobody took over within " << kTakeover.count()
                     << " ms";
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - closed);
  std::printf("cluster: holder closed -> another holds after %lld ms\n",
              static_cast<long long>(took.count()));
  EXPECT_NE(next, holder);

  // 2. The leader (which the holder and the waiter talk to) is killed.
  leader = c.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  auto killed = Clock::now();
  ASSERT_TRUE(c.Kill(*leader).ok());
  // Holding stops at once: the connection closed.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(locks[static_cast<std::size_t>(next)]->held());
  int after = watch.WaitForHolder(kTakeover);
  ASSERT_GE(after, 0) << "nobody took over within " << kTakeover.count()
                      << " ms of the leader's death";
  took = std::chrono::duration_cast<milliseconds>(Clock::now() - killed);
  std::printf("cluster: leader killed -> a client holds after %lld ms\n",
              static_cast<long long>(took.count()));
  auto new_leader = c.WaitForLeader();
  ASSERT_TRUE(new_leader.ok());
  EXPECT_EQ(locks[static_cast<std::size_t>(after)]->remote(),
            c.remotes()[static_cast<std::size_t>(*new_leader)]);
  auto status = locks[static_cast<std::size_t>(after)]->server_status();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->model, "clustered");
  EXPECT_TRUE(status->leader);
  EXPECT_TRUE(status->index.has_value());
  EXPECT_TRUE(locks[static_cast<std::size_t>(after)]
                  ->TransactFenced(InsertHost("after-kill"))
                  .ok());
  EXPECT_EQ(watch.double_holders(), 0);
}

// A raw JSON-RPC session on a server's socket, for the stealing client.
class RawSession {
 public:
  static StatusOr<RawSession> Open(const std::string& socket) {
    RawSession s;
    TVD_ASSIGN_OR_RETURN(s.stream_, vswitch::UnixStream::Connect(socket));
    return s;
  }
  StatusOr<Json> Call(const std::string& method, const Json& params) {
    auto deadline = Clock::now() + milliseconds(5000);
    TVD_RETURN_IF_ERROR(stream_.WriteAll(
        vswitch::EncodeJsonRpcRequest(method, params, next_id_), deadline));
    while (true) {
      for (auto& m : got_) {
        if (m.kind == vswitch::JsonRpcMessage::Kind::kResponse &&
            m.id == next_id_) {
          ++next_id_;
          Json r = m.result;
          got_.clear();
          return r;
        }
      }
      TVD_ASSIGN_OR_RETURN(std::string bytes, stream_.ReadSome(deadline));
      TVD_RETURN_IF_ERROR(decoder_.Feed(bytes, &got_));
    }
  }

 private:
  vswitch::UnixStream stream_;
  vswitch::JsonRpcDecoder decoder_;
  std::vector<vswitch::JsonRpcMessage> got_;
  std::int64_t next_id_ = 1;
};

TEST(OvsdbLockTest, StolenLockStopsHoldingAndIsFenced) {
  auto cluster = Cluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  OvsdbCluster& c = **cluster;
  auto a = StartLock(c.remotes());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->WaitHeld(milliseconds(10000)).ok());
  auto leader = c.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  auto thief = RawSession::Open(c.socket(*leader));
  ASSERT_TRUE(thief.ok()) << thief.status().ToString();
  auto stolen = thief->Call("steal", Json::array({"tvd_master_duties"}));
  ASSERT_TRUE(stolen.ok()) << stolen.status().ToString();
  EXPECT_EQ(*stolen, (Json{{"locked", true}}));
  auto deadline = Clock::now() + milliseconds(1000);
  while (a->held() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_FALSE(a->held());
  // A reconnected and is queued behind the thief: the server refuses its
  // fenced write; the thief's own asserted write commits.
  std::this_thread::sleep_for(milliseconds(300));
  auto refused =
      a->TransactFenced(InsertHost("stale"), OvsdbLock::Check::kServerOnly);
  EXPECT_TRUE(refused.status().message().starts_with(
      "OVSDB lock 'tvd_master_duties' is not held by this replica: the server "
      "refused the assert: not owner"))
      << refused.status().ToString();
  Json txn =
      Json::array({"TVD_Master", OvsdbLock::AssertOp("tvd_master_duties")});
  for (const Json& op : InsertHost("thief")) txn.push_back(op);
  auto mine = thief->Call("transact", txn);
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_FALSE((*mine)[0].contains("error")) << mine->dump();
  EXPECT_FALSE((*mine)[1].contains("error")) << mine->dump();
  auto rows = c.Transact(
      *leader,
      R"(["TVD_Master",{"op":"select","table":"Host","where":[],"columns":["name"]}])");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->find("stale"), std::string::npos) << *rows;
  EXPECT_NE(rows->find("thief"), std::string::npos) << *rows;
}

// An eviction by the deadline duty is a fenced transition: it commits only
// behind the duty lock's assert, on the lock's connection. A stale holder
// (its lock gone to another replica) cannot evict, whether it knows it has
// lost the lock (refused by itself) or not (refused by the server).
TEST(OvsdbLockTest, AStaleHoldersFencedEvictionIsRefused) {
  auto cluster = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto a = StartLock((*cluster)->remotes());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->WaitHeld(milliseconds(5000)).ok());
  auto b = StartLock((*cluster)->remotes());
  ASSERT_TRUE(b);
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_FALSE(b->held());

  master::OvsdbStoreOptions so;
  so.remotes = (*cluster)->remotes();
  auto store = master::OvsdbStore::Open(so, SecureBytes::Random(32));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  master::OvsdbStore& s = **store;
  std::string where = "state store TVD_Master at ";
  for (std::size_t i = 0; i < so.remotes.size(); ++i) {
    where += (i ? ", " : "") + so.remotes[i];
  }
  auto row = [](std::uint64_t epoch, std::string token) {
    return master::TvdRow{"blue", "<p/>",           "ab",
                          epoch,  std::move(token), {0x0a}};
  };
  master::TvdTransition create{"blue", true,         "", row(1, "t1"),
                               false,  {"h1", "h2"}, {}};
  ASSERT_TRUE(s.Transition(create).ok());
  master::TvdTransition evict{"blue", false, "t1",  row(2, "t2"),
                              false,  {},    {"h1"}};
  evict.fenced = true;
  auto unchanged = [&] {
    auto stored = s.LoadTvd("blue");
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->token, "t1");
    EXPECT_EQ((*stored)->epoch, 1u);
    auto members = s.Members("blue");
    ASSERT_TRUE(members.ok());
    EXPECT_EQ(*members, (std::vector<std::string>{"h1", "h2"}));
  };

  // No lock to fence it with.
  EXPECT_EQ(
      s.Transition(evict),
      PermissionDenied(where + ": Transition blue epoch 2 -h1: no duty lock to "
                               "fence it with; nothing written"));
  unchanged();
  // B, which does not hold the lock, knows it.
  s.SetTransitionFence([&](const Json& ops) {
    return b->TransactFenced(ops, OvsdbLock::Check::kHeld);
  });
  EXPECT_EQ(
      s.Transition(evict),
      PermissionDenied(where + ": Transition blue epoch 2 -h1: OVSDB lock "
                               "'tvd_master_duties' is not held by this "
                               "replica; nothing written"));
  unchanged();
  // B believes it holds (its own check skipped): the server's assert
  // refuses the whole transaction.
  s.SetTransitionFence([&](const Json& ops) {
    return b->TransactFenced(ops, OvsdbLock::Check::kServerOnly);
  });
  Status refused = s.Transition(evict);
  EXPECT_EQ(refused.code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(refused.message().starts_with(
      where +
      ": Transition blue epoch 2 -h1: OVSDB lock 'tvd_master_duties' is not "
      "held by this replica: the server refused the assert: not owner"))
      << refused.ToString();
  EXPECT_TRUE(refused.message().ends_with("; nothing written"))
      << refused.ToString();
  unchanged();
  // The holder's eviction commits, once.
  s.SetTransitionFence([&](const Json& ops) {
    return a->TransactFenced(ops, OvsdbLock::Check::kHeld);
  });
  ASSERT_TRUE(s.Transition(evict).ok());
  EXPECT_TRUE(s.Transition(evict).ok());  // sent again: recognised
  auto stored = s.LoadTvd("blue");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->token, "t2");
  EXPECT_EQ((*stored)->epoch, 2u);
  EXPECT_EQ(*s.Members("blue"), (std::vector<std::string>{"h2"}));
  // A fenced transition that lost its race is refused as any other.
  master::TvdTransition late{"blue", false, "t1",  row(2, "t3"),
                             false,  {},    {"h2"}};
  late.fenced = true;
  EXPECT_EQ(s.Transition(late),
            FailedPrecondition("TVD blue changed on another master"));
  s.SetTransitionFence({});
}

}  // namespace
}  // namespace tvd::testing
