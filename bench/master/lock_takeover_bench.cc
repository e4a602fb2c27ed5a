// Takeover time of the singleton lock (OvsdbLock) on a real 3-server Raft
// cluster (tests/fixture/ovsdb_cluster; needs root for the namespaces):
// three lock clients, the takeover bound of the master's default
// (lock_takeover_ms 3000) and the cluster's election timer set to
// --election-ms (default 1000, ovsdb-tool's). Each round, one of:
//  - holder: the holding client is closed abruptly (its connection ends
//    as when the master process dies), a new client takes its place;
//  - leader: the leader server is killed (kill -9) and started again;
// and the time from the fault until some client holds (may act) is taken.
// Prints min / p50 / max per fault and the number of samples at which two
// clients held at once (must be 0).
//
// Run: bench_lock_takeover [--rounds N] [--election-ms E] [--takeover-ms L]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tvd/bench/must.h"
#include "tvd/master/ovsdb_lock.h"
#include "tvd/testing/ovsdb_cluster.h"

namespace {

using namespace tvd;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<master::OvsdbLock>> locks;
  int Holders() {
    std::lock_guard<std::mutex> g(mu);
    int n = 0;
    for (auto& l : locks) n += l && l->held();
    return n;
  }
};

std::unique_ptr<master::OvsdbLock> NewLock(const testing::OvsdbCluster& c,
                                           int first, milliseconds takeover,
                                           milliseconds election) {
  auto o = master::OvsdbLockOptions::ForTakeover(takeover, election);
  o.remotes = c.remotes();
  std::rotate(o.remotes.begin(), o.remotes.begin() + first, o.remotes.end());
  o.lock_name = "tvd_master_duties";
  return bench::Must(master::OvsdbLock::Start(o), "starting a lock client");
}

long long WaitForHolder(Pool& pool, Clock::time_point since) {
  auto deadline = since + std::chrono::seconds(30);
  while (pool.Holders() == 0) {
    if (Clock::now() > deadline) {
      bench::Die("waiting for a holder", Timeout("none within 30 s"));
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

void Report(const char* what, std::vector<long long> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-28s n=%zu min %lld ms  p50 %lld ms  max %lld ms\n", what,
              v.size(), v.front(), v[v.size() / 2], v.back());
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  milliseconds election{1000};
  milliseconds takeover{3000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--election-ms")) {
      election = milliseconds(std::atoi(argv[i + 1]));
    }
    if (!std::strcmp(argv[i], "--takeover-ms")) {
      takeover = milliseconds(std::atoi(argv[i + 1]));
    }
  }
  std::string schema =
      std::string(TVD_SOURCE_DIR) + "/tvd-master/tvd_master.ovsschema";
  auto cluster = bench::Must(testing::OvsdbCluster::StartClustered(schema, 3),
                             "starting a 3-server cluster");
  int leader = bench::Must(cluster->WaitForLeader(), "finding the leader");
  if (election != milliseconds(1000)) {
    bench::Must(
        cluster->Appctl(leader, {"cluster/change-election-timer", "TVD_Master",
                                 std::to_string(election.count())}),
        "setting the election timer");
  }
  auto hold = master::OvsdbLockOptions::ForTakeover(takeover, election).hold;
  std::printf(
      "lock takeover: 3 servers, election timer %lld ms, takeover "
      "bound %lld ms (hold %lld ms, settle %lld ms)\n",
      static_cast<long long>(election.count()),
      static_cast<long long>(takeover.count()),
      static_cast<long long>(hold.count()),
      static_cast<long long>((hold + election).count()));

  Pool pool;
  for (int i = 0; i < 3; ++i) {
    pool.locks.push_back(NewLock(*cluster, i, takeover, election));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> doubles{0};
  std::thread watch([&] {
    while (!stop) {
      if (pool.Holders() > 1) ++doubles;
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  WaitForHolder(pool, Clock::now());

  std::vector<long long> holder_closed, leader_killed;
  for (int r = 0; r < rounds; ++r) {
    // The holder goes away; a fresh client joins the queue.
    std::unique_ptr<master::OvsdbLock> gone;
    int slot = -1;
    {
      std::lock_guard<std::mutex> g(pool.mu);
      for (std::size_t i = 0; i < pool.locks.size(); ++i) {
        if (pool.locks[i]->held()) {
          gone = std::move(pool.locks[i]);
          slot = static_cast<int>(i);
        }
      }
    }
    if (!gone) bench::Die("round " + std::to_string(r), Internal("no holder"));
    auto t = Clock::now();
    gone.reset();
    holder_closed.push_back(WaitForHolder(pool, t));
    {
      std::lock_guard<std::mutex> g(pool.mu);
      pool.locks[static_cast<std::size_t>(slot)] =
          NewLock(*cluster, slot, takeover, election);
    }

    leader = bench::Must(cluster->WaitForLeader(), "finding the leader");
    t = Clock::now();
    bench::Must(cluster->Kill(leader).ok() ? StatusOr<int>(0)
                                           : StatusOr<int>(Internal("kill")),
                "killing the leader");
    leader_killed.push_back(WaitForHolder(pool, t));
    bench::Must(cluster->Restart(leader).ok()
                    ? StatusOr<int>(0)
                    : StatusOr<int>(Internal("restart")),
                "restarting the killed server");
    std::this_thread::sleep_for(milliseconds(500));
  }
  stop = true;
  watch.join();
  Report("holder closed -> held", holder_closed);
  Report("leader killed -> held", leader_killed);
  std::printf("samples with two holders: %d\n", doubles.load());
  {
    std::lock_guard<std::mutex> g(pool.mu);
    pool.locks.clear();
  }
  return doubles.load() == 0 ? 0 : 1;
}
