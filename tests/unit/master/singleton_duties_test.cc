// OverdueHosts (pure, time passed in) and SingletonDuties with fake hooks:
// who is evicted when, only while the duty is held, and a new holder's
// first round.
#include "tvd/master/singleton_duties.h"

#include <gtest/gtest.h>

#include <functional>

namespace tvd::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::int64_t kT = 1'700'000'000;  // unix seconds
constexpr std::int64_t kTms = kT * 1000;
constexpr milliseconds kGrace{10000};

HostRow Host(const std::string& name, bool attested, std::int64_t at) {
  return {name, "198.18.0.1", attested, attested ? "" : "bad PCR", at};
}

TEST(OverdueHostsTest, GoodVerdictDeadlineIsIntervalPlusGrace) {
  std::vector<MemberInterval> m = {{"blue", "h1", seconds(60)}};
  std::vector<HostRow> h = {Host("h1", true, kT)};
  // Deadline: (kT + 1) s + 60 s + 10 s; the duty began long before.
  std::int64_t deadline = (kT + 1) * 1000 + 70'000;
  std::int64_t since = kTms - 3'600'000;
  EXPECT_TRUE(OverdueHosts(m, h, deadline, since, kGrace).empty());
  auto out = OverdueHosts(m, h, deadline + 1, since, kGrace);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].host, "h1");
  EXPECT_EQ(out[0].late, milliseconds(1));
  EXPECT_EQ(out[0].reason,
            "no good attestation since 1700000000 (unix s): TVD blue "
            "re-attests every 60 s, grace 10 s");
}

TEST(OverdueHostsTest, FailedVerdictDeadlineIsGraceOnly) {
  std::vector<MemberInterval> m = {{"blue", "h1", seconds(60)}};
  std::vector<HostRow> h = {Host("h1", false, kT)};
  std::int64_t since = kTms - 3'600'000;
  EXPECT_TRUE(
      OverdueHosts(m, h, (kT + 1) * 1000 + 10'000, since, kGrace).empty());
  auto out = OverdueHosts(m, h, (kT + 1) * 1000 + 10'001, since, kGrace);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason,
            "attestation failed at 1700000000 (unix s) and the host is still "
            "a member of TVD blue after grace 10 s");
}

TEST(OverdueHostsTest, NoVerdictCountsFromTheDutysStart) {
  std::vector<MemberInterval> m = {{"blue", "h1", milliseconds(1500)},
                                   {"blue", "h2", milliseconds(1500)}};
  std::vector<HostRow> h = {Host("h1", false, 0)};  // h2 has no row at all
  std::int64_t since = kTms;
  EXPECT_TRUE(OverdueHosts(m, h, since + 11'500, since, kGrace).empty());
  auto out = OverdueHosts(m, h, since + 11'501, since, kGrace);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].host, "h1");
  EXPECT_EQ(out[1].host, "h2");
  EXPECT_EQ(out[1].reason,
            "no attestation stored; none within TVD blue's interval (1.5 s) "
            "+ grace (10 s) since this master took the duty");
}

TEST(OverdueHostsTest, ANewHolderGivesEveryMemberOneRound) {
  // h1's last good verdict is an hour old, but the duty began just now:
  // its replica may have died a moment ago, and h1 may be failing over.
  std::vector<MemberInterval> m = {{"blue", "h1", seconds(60)}};
  std::vector<HostRow> h = {Host("h1", true, kT - 3600)};
  EXPECT_TRUE(OverdueHosts(m, h, kTms + 70'000, kTms, kGrace).empty());
  EXPECT_EQ(OverdueHosts(m, h, kTms + 70'001, kTms, kGrace).size(), 1u);
  // A failed verdict: grace after the duty began.
  h = {Host("h1", false, kT - 3600)};
  EXPECT_TRUE(OverdueHosts(m, h, kTms + 10'000, kTms, kGrace).empty());
  EXPECT_EQ(OverdueHosts(m, h, kTms + 10'001, kTms, kGrace).size(), 1u);
}

TEST(OverdueHostsTest, OneEvictionPerHostNamingTheEarliestDeadline) {
  // h1 is in two TVDs; the 30 s one passed first.
  std::vector<MemberInterval> m = {{"blue", "h1", seconds(600)},
                                   {"red", "h1", seconds(30)},
                                   {"red", "h2", seconds(30)}};
  std::vector<HostRow> h = {Host("h1", true, kT), Host("h2", true, kT + 100)};
  std::int64_t since = kTms - 3'600'000;
  auto out = OverdueHosts(m, h, kTms + 50'000, since, kGrace);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].host, "h1");
  EXPECT_EQ(out[0].reason,
            "no good attestation since 1700000000 (unix s): TVD red "
            "re-attests every 30 s, grace 10 s");
  EXPECT_EQ(out[0].late, milliseconds(50'000 - 41'000));
}

struct Fake {
  bool held = true;
  std::int64_t now = kTms;
  std::vector<MemberInterval> members;
  std::vector<HostRow> hosts;
  Status hosts_error;
  std::vector<std::string> evicted;
  Status evict_error;
  // Drops the lock after the first eviction.
  bool lose_after_first = false;
  // Runs at each read of the hosts, after it (the world moving on).
  std::function<void(int reads)> after_read;
  int reads = 0;

  DutyHooks Hooks() {
    DutyHooks h;
    h.held = [this] { return held; };
    h.members = [this] { return members; };
    h.hosts = [this]() -> StatusOr<std::vector<HostRow>> {
      if (!hosts_error.ok()) return hosts_error;
      std::vector<HostRow> read = hosts;
      if (after_read) after_read(++reads);
      return read;
    };
    h.evict = [this](const OverdueHost& o) {
      if (!evict_error.ok()) return evict_error;
      evicted.push_back(o.host);
      // Evicted hosts leave the registry.
      std::erase_if(members,
                    [&](const MemberInterval& m) { return m.host == o.host; });
      if (lose_after_first) held = false;
      return Status::Ok();
    };
    h.now_unix_ms = [this] { return now; };
    return h;
  }
};

TEST(SingletonDutiesTest, EvictsOnlyWhileHeldAndCountsFromTheDutysStart) {
  Fake f;
  f.members = {{"blue", "h1", seconds(60)}, {"blue", "h2", seconds(60)}};
  f.hosts = {Host("h1", true, kT - 3600), Host("h2", true, kT + 50)};
  f.held = false;
  SingletonDuties d(f.Hooks(), {milliseconds(1000), kGrace});
  f.now = kTms + 1'000'000;
  auto out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_FALSE(d.holding());

  f.held = true;
  f.now = kTms;  // the duty starts here
  ASSERT_TRUE(d.SweepOnce().ok());
  EXPECT_TRUE(d.holding());
  f.now = kTms + 70'000;
  out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  f.now = kTms + 70'001;  // h1: one round after the duty began
  out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].host, "h1");
  EXPECT_EQ(f.evicted, std::vector<std::string>{"h1"});
  EXPECT_EQ(d.evictions(), 1u);
  // h2 (good at kT + 50) is due at (kT + 51) s + 70 s.
  f.now = (kT + 51) * 1000 + 70'001;
  out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(f.evicted, (std::vector<std::string>{"h1", "h2"}));

  // Losing the duty forgets its start: a new holder gives a new round.
  f.members = {{"blue", "h3", seconds(60)}};
  f.hosts = {Host("h3", true, kT)};
  f.held = false;
  ASSERT_TRUE(d.SweepOnce().ok());
  EXPECT_FALSE(d.holding());
  f.held = true;
  f.now = kTms + 500'000;
  ASSERT_TRUE(d.SweepOnce().ok());
  EXPECT_EQ(f.evicted.size(), 2u);
  f.now = kTms + 570'001;
  ASSERT_TRUE(d.SweepOnce().ok());
  EXPECT_EQ(f.evicted.size(), 3u);
}

TEST(SingletonDutiesTest, StopsEvictingWhenTheLockGoesMidSweep) {
  Fake f;
  f.members = {{"blue", "h1", seconds(1)}, {"blue", "h2", seconds(1)}};
  f.hosts = {Host("h1", false, kT), Host("h2", false, kT)};
  f.lose_after_first = true;
  SingletonDuties d(f.Hooks(), {milliseconds(1000), kGrace});
  f.now = kTms - 100'000;
  ASSERT_TRUE(d.SweepOnce().ok());
  f.now = kTms + 100'000;
  auto out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 1u);
  EXPECT_EQ(f.evicted, std::vector<std::string>{"h1"});
}

// The hosts rejoin while the sweep evicts others (after every master
// restarted): h2 re-attests after the sweep's first read, before its turn,
// and stays; h3 leaves meanwhile and is not evicted either.
TEST(SingletonDutiesTest, AHostThatReattestedDuringTheSweepIsNotEvicted) {
  Fake f;
  f.members = {{"blue", "h1", seconds(1)},
               {"blue", "h2", seconds(1)},
               {"blue", "h3", seconds(1)}};
  f.hosts = {Host("h1", true, kT), Host("h2", true, kT),
             Host("h3", true, kT)};
  SingletonDuties d(f.Hooks(), {milliseconds(1000), kGrace});
  f.now = kTms - 100'000;
  ASSERT_TRUE(d.SweepOnce().ok());
  f.now = kTms + 100'000;
  f.after_read = [&f](int reads) {
    if (reads != 1) return;  // the sweep's first read
    f.hosts[1] = Host("h2", true, kT + 99);
    std::erase_if(f.members,
                  [](const MemberInterval& m) { return m.host == "h3"; });
  };
  auto out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(f.evicted, std::vector<std::string>{"h1"});
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].host, "h1");
}

TEST(SingletonDutiesTest, ErrorsAreReturnedOrRetried) {
  Fake f;
  f.members = {{"blue", "h1", seconds(1)}};
  f.hosts = {Host("h1", false, kT)};
  f.hosts_error = IoError("state store: gone");
  SingletonDuties d(f.Hooks(), {milliseconds(1000), kGrace});
  f.now = kTms - 100'000;
  EXPECT_EQ(d.SweepOnce().status().ToString(), "io: state store: gone");
  f.hosts_error = Status::Ok();
  f.evict_error = IoError("journal stopped");
  f.now = kTms + 100'000;
  auto out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());  // logged, tried again next time
  f.evict_error = Status::Ok();
  out = d.SweepOnce();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 1u);
}

TEST(SingletonDutiesTest, ThreadSweepsUntilStopped) {
  Fake f;
  std::atomic<int> sweeps{0};
  DutyHooks h = f.Hooks();
  h.held = [&] {
    ++sweeps;
    return false;
  };
  SingletonDuties d(h, {milliseconds(5), kGrace});
  d.Start();
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (sweeps.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  d.Stop();
  int after = sweeps.load();
  EXPECT_GE(after, 3);
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(sweeps.load(), after);
}

}  // namespace
}  // namespace tvd::master
