// MasterClientLink across a list of master replicas, each a scripted fake
// (FakeReplica below): the order in which masters are tried, the bounds of
// the back-off, what is final (a LeaveNotice, our own Leave, a refusal) and
// what fails over (a dropped channel, an unreachable master), what a rejoin
// hands to the proxy, and where request calls go.
#include "tvd/proxy/master_client_link.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "tvd/policy/canonical.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/testing/test_policy.h"

namespace tvd::proxy {
namespace {

using std::chrono::milliseconds;
constexpr auto kWait = std::chrono::seconds(10);

// What every replica was asked, in order ("m1 join", "m2 serve", ...), and
// what the link handed to the proxy; the link's thread writes, the test
// waits for it.
struct Journal {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> calls;
  std::vector<MasterUpdate> updates;
  std::vector<milliseconds> sleeps;
  bool leave_called = false;
  // By replica id: the JoinRequests received and the Close() calls. Kept
  // here, not in the replicas, which the link owns and destroys.
  std::map<std::string, std::vector<protocol::JoinRequest>> requests;
  std::map<std::string, int> closes;

  void Add(std::string call) {
    std::lock_guard l(m);
    calls.push_back(std::move(call));
    cv.notify_all();
  }
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock l(m);
    return cv.wait_for(l, kWait, pred);
  }
  std::vector<std::string> Calls() {
    std::lock_guard l(m);
    return calls;
  }
  std::vector<std::string> Joins() {
    std::vector<std::string> out;
    for (const std::string& c : Calls()) {
      if (c.ends_with(" join")) out.push_back(c);
    }
    return out;
  }
};

protocol::JoinGrant Grant(std::uint64_t epoch, std::uint8_t key_byte,
                          int interval = 60) {
  protocol::JoinGrant g;
  g.tvd = "blue";
  g.policy_xml = master::Policy("blue", 1, {"host-a", "host-b"},
                                {Sha256Digest{}}, interval);
  auto pol = policy::ParseTvdPolicy(g.policy_xml, "test");
  EXPECT_TRUE(pol.ok()) << pol.status();
  g.policy_digest = policy::CanonicalDigest(*pol);
  g.epoch = epoch;
  std::vector<std::uint8_t> key(32, key_byte);
  g.key = SecureBytes(std::span<const std::uint8_t>(key));
  g.members = {{"host-a", "198.18.0.1"}, {"host-b", "198.18.0.2"}};
  g.attestation_interval_seconds = static_cast<std::uint32_t>(interval);
  return g;
}

// One replica. Join answers from `joins` (when empty: the connection is
// refused); Serve runs the next of `serves` (when none is left, it holds the
// channel until the link stops it, then returns OK).
class FakeReplica : public MasterChannel {
 public:
  using ServeScript = std::function<Status(const protocol::MasterEvents&)>;
  FakeReplica(std::string id, std::string name, Journal& journal)
      : id_(std::move(id)), name_(std::move(name)), journal_(journal) {}

  const std::string& name() const override { return name_; }
  StatusOr<protocol::JoinGrant> Join(
      const protocol::JoinRequest& request) override {
    journal_.Add(id_ + " join");
    {
      std::lock_guard l(journal_.m);
      journal_.requests[id_].push_back(request);
    }
    if (joins.empty()) {
      return Unavailable("cannot connect to " + name_ + ": Connection refused");
    }
    auto next = std::move(joins.front());
    joins.pop_front();
    return next;
  }
  Status Serve(const protocol::MasterEvents& events,
               const std::atomic<bool>& stop) override {
    journal_.Add(id_ + " serve");
    if (!serves.empty()) {
      ServeScript script = std::move(serves.front());
      serves.pop_front();
      return script(events);
    }
    while (!stop) std::this_thread::sleep_for(milliseconds(5));
    return Status::Ok();
  }
  void Close() override {
    std::lock_guard l(journal_.m);
    ++journal_.closes[id_];
  }
  Status Leave(const std::string& tvd, const std::string& reason) override {
    journal_.Add(id_ + " leave " + tvd + " (" + reason + ")");
    {
      std::lock_guard l(journal_.m);
      journal_.leave_called = true;
    }
    journal_.cv.notify_all();
    return leave_result;
  }
  StatusOr<protocol::DiskKeyGrant> RequestDiskKey(
      const std::string& tvd, const std::string& vm) override {
    journal_.Add(id_ + " disk-key " + tvd + "/" + vm);
    if (!disk_key_result.ok()) return disk_key_result;
    std::vector<std::uint8_t> key(32, 0x11);
    return protocol::DiskKeyGrant{
        tvd, vm, SecureBytes(std::span<const std::uint8_t>(key))};
  }
  Status ReportVm(const protocol::VmReport& report) override {
    journal_.Add(id_ + " report " + report.vm);
    return report_result;
  }
  Status ClaimUsage(const protocol::UsageClaim& claim) override {
    journal_.Add(id_ + " claim " + claim.tvd);
    return claim_result;
  }
  StatusOr<protocol::VtpmKeyGrant> RequestVtpmKey(
      const std::string& tvd, const std::string& vm) override {
    journal_.Add(id_ + " vtpm-key " + tvd + "/" + vm);
    if (!vtpm_key_result.ok()) return vtpm_key_result;
    std::vector<std::uint8_t> key(32, 0x22);
    return protocol::VtpmKeyGrant{
        tvd, vtpm_grant_vm.empty() ? vm : vtpm_grant_vm,
        SecureBytes(std::span<const std::uint8_t>(key))};
  }
  Status RecordVtpm(const protocol::VtpmRecord& record) override {
    journal_.Add(id_ + " vtpm-record " + record.tvd + "/" + record.vm);
    return record_result;
  }
  Status ReportGuestQuote(const protocol::GuestQuoteReport& report) override {
    journal_.Add(id_ + " guest-quote " + std::to_string(report.id));
    return guest_quote_result;
  }

  std::deque<StatusOr<protocol::JoinGrant>> joins;
  std::deque<ServeScript> serves;
  Status leave_result;
  Status guest_quote_result;
  Status disk_key_result;
  Status report_result;
  Status claim_result;
  Status vtpm_key_result;
  std::string vtpm_grant_vm;  // non-empty: the grant names this VM instead
  Status record_result;

 private:
  std::string id_;
  std::string name_;
  Journal& journal_;
};

FakeReplica::ServeScript Drops() {
  return [](const protocol::MasterEvents&) {
    return Unavailable("channel dropped: connection reset by peer");
  };
}

class MasterClientLinkTest : public ::testing::Test {
 protected:
  // Masters m1..mN at 127.0.0.1:7401.. .
  void MakeLink(int n) {
    std::vector<MasterChannelPtr> masters;
    for (int i = 1; i <= n; ++i) {
      auto r = std::make_unique<FakeReplica>(
          "m" + std::to_string(i), "127.0.0.1:" + std::to_string(7400 + i),
          journal_);
      replicas_.push_back(r.get());
      masters.push_back(std::move(r));
    }
    MasterLinkOptions options;
    options.sleep = [this](milliseconds d, const std::atomic<bool>&) {
      std::lock_guard l(journal_.m);
      journal_.sleeps.push_back(d);
    };
    // 0: every delay is the lower end of its range, bound / 2.
    options.random = [] { return std::uint64_t{0}; };
    link_ = std::make_unique<MasterClientLink>(std::move(masters), "198.18.0.1",
                                               options);
    link_->SetUpdateHandler([this](const MasterUpdate& u) {
      std::lock_guard l(journal_.m);
      journal_.updates.push_back(u.Clone());
      journal_.cv.notify_all();
    });
  }
  FakeReplica& M(int i) { return *replicas_[static_cast<std::size_t>(i - 1)]; }
  bool WaitForUpdates(std::size_t n) {
    return journal_.WaitFor([&] { return journal_.updates.size() >= n; });
  }
  // Stops the serving thread: everything it did is in the journal. The
  // replicas are gone with the link: no M() after this.
  void StopLink() {
    link_.reset();
    replicas_.clear();
  }

  Journal journal_;
  std::vector<FakeReplica*> replicas_;
  std::unique_ptr<MasterClientLink> link_;
};

TEST(FailoverScheduleTest, NextMasterFirstThenAroundDoublingPerRound) {
  FailoverSchedule s(3, 1, {milliseconds(1000), milliseconds(15000)});
  std::vector<std::size_t> order;
  std::vector<milliseconds> bounds;
  for (int k = 0; k < 16; ++k) {
    auto step = s.Next();
    order.push_back(step.master);
    bounds.push_back(step.bound);
  }
  EXPECT_EQ(order, (std::vector<std::size_t>{2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1,
                                             2, 0, 1, 2}));
  const std::vector<milliseconds> expected{
      milliseconds(1000),  milliseconds(1000),  milliseconds(1000),
      milliseconds(2000),  milliseconds(2000),  milliseconds(2000),
      milliseconds(4000),  milliseconds(4000),  milliseconds(4000),
      milliseconds(8000),  milliseconds(8000),  milliseconds(8000),
      milliseconds(15000), milliseconds(15000), milliseconds(15000),
      milliseconds(15000)};
  EXPECT_EQ(bounds, expected);
}

TEST(FailoverScheduleTest, TheFirstSurvivorIsDrawnAndTheLostOneStaysLast) {
  // Five masters, master 3 lost: survivors 4, 0, 1, 2 in list order.
  auto first_round = [](std::uint64_t spread) {
    FailoverSchedule s(5, 3, {milliseconds(1000), milliseconds(15000)},
                       spread);
    std::vector<std::size_t> order;
    for (int k = 0; k < 10; ++k) order.push_back(s.Next().master);
    return order;
  };
  EXPECT_EQ(first_round(0),
            (std::vector<std::size_t>{4, 0, 1, 2, 3, 4, 0, 1, 2, 3}));
  EXPECT_EQ(first_round(2),
            (std::vector<std::size_t>{1, 2, 4, 0, 3, 1, 2, 4, 0, 3}));
  EXPECT_EQ(first_round(7),
            (std::vector<std::size_t>{2, 4, 0, 1, 3, 2, 4, 0, 1, 3}));
  // Stranded hosts with random draws land on every survivor, about
  // equally: 4,000 schedules over 4 survivors.
  std::map<std::size_t, int> first;
  std::uint64_t x = 88172645463325252ull;  // xorshift64
  for (int h = 0; h < 4000; ++h) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    FailoverSchedule s(5, 3, {}, x);
    ++first[s.Next().master];
  }
  EXPECT_EQ(first.count(3), 0u);
  for (std::size_t m : {0u, 1u, 2u, 4u}) {
    EXPECT_GT(first[m], 800) << "master " << m;
    EXPECT_LT(first[m], 1200) << "master " << m;
  }
}

TEST(FailoverScheduleTest, OneMasterIsRetriedItself) {
  FailoverSchedule s(1, 0, {});
  EXPECT_EQ(s.Next().master, 0u);
  EXPECT_EQ(s.Next().master, 0u);
  EXPECT_EQ(s.Next().bound, milliseconds(4000));
  // Bounded for ever: thousands of attempts later still at most max.
  for (int k = 0; k < 10000; ++k) s.Next();
  EXPECT_EQ(s.Next().bound, milliseconds(15000));
}

TEST(FailoverScheduleTest, JitterStaysWithinHalfTheBoundAndTheBound) {
  EXPECT_EQ(FailoverSchedule::Jitter(milliseconds(1000), 0), milliseconds(500));
  EXPECT_EQ(FailoverSchedule::Jitter(milliseconds(1000), 500),
            milliseconds(1000));
  EXPECT_EQ(FailoverSchedule::Jitter(milliseconds(1000), 501),
            milliseconds(500));
  EXPECT_EQ(FailoverSchedule::Jitter(milliseconds(1000), 250),
            milliseconds(750));
  for (std::uint64_t r :
       {std::uint64_t{1}, std::uint64_t{12345}, ~std::uint64_t{0}}) {
    auto d = FailoverSchedule::Jitter(milliseconds(15000), r);
    EXPECT_GE(d, milliseconds(7500));
    EXPECT_LE(d, milliseconds(15000));
  }
  EXPECT_EQ(FailoverSchedule::Jitter(milliseconds(1), 7), milliseconds(1));
  // A first bound above max is taken as max; a lost index out of range as 0.
  FailoverSchedule odd(2, 9, {milliseconds(50000), milliseconds(3000)});
  auto step = odd.Next();
  EXPECT_EQ(step.master, 1u);
  EXPECT_EQ(step.bound, milliseconds(3000));
}

TEST(MasterClientLinkRefusalTest, FinalRefusals) {
  EXPECT_TRUE(MasterClientLink::IsFinalRefusal(
      PermissionDenied("peer: host host-a is not authorized for TVD blue")));
  EXPECT_TRUE(
      MasterClientLink::IsFinalRefusal(NotFound("peer: no TVD named blue")));
  EXPECT_TRUE(MasterClientLink::IsFinalRefusal(
      Unauthenticated("peer: PCR 16 does not hold a known-good value")));
  // Our side of TLS, or a master posing as another: try the next one.
  EXPECT_FALSE(MasterClientLink::IsFinalRefusal(
      Unauthenticated("TLS handshake failed: peer closed the connection")));
  EXPECT_FALSE(MasterClientLink::IsFinalRefusal(
      Unauthenticated("server is host:node9, expected host:tvd-master")));
  EXPECT_FALSE(MasterClientLink::IsFinalRefusal(
      Unavailable("cannot connect to 127.0.0.1:7401: Connection refused")));
  EXPECT_FALSE(MasterClientLink::IsFinalRefusal(
      Timeout("TLS handshake timed out after 5000 ms")));
  EXPECT_FALSE(MasterClientLink::IsFinalRefusal(
      ProtocolError("JoinGrant: message truncated in field 'key'")));
}

// One master: the link joins it again (a restart), as before lists existed.
TEST_F(MasterClientLinkTest, OneMasterIsJoinedAgainAfterItsChannelDrops) {
  MakeLink(1);
  M(1).joins.push_back(Grant(7, 0x5a));
  M(1).joins.push_back(Unavailable("cannot connect: Connection refused"));
  M(1).joins.push_back(Grant(8, 0x77));
  M(1).serves.push_back(Drops());
  auto g = link_->Join("blue");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->key_epoch, 7u);
  ASSERT_TRUE(WaitForUpdates(1));
  // Serving again (until stopped).
  ASSERT_TRUE(journal_.WaitFor([&] { return journal_.calls.size() >= 5; }));
  StopLink();
  EXPECT_EQ(journal_.calls,
            (std::vector<std::string>{"m1 join", "m1 serve", "m1 join",
                                      "m1 join", "m1 serve"}));
  EXPECT_EQ(journal_.sleeps,
            (std::vector<milliseconds>{milliseconds(500), milliseconds(1000)}));
  ASSERT_EQ(journal_.updates.size(), 1u);
  EXPECT_EQ(journal_.updates[0].kind, MasterUpdate::Kind::kMembers);
  EXPECT_EQ(journal_.updates[0].key_epoch, 8u);
  EXPECT_TRUE(
      journal_.updates[0].key.Equals(std::vector<std::uint8_t>(32, 0x77)));
  // The rejoin names the policy the proxy already enforces.
  const auto& requests = journal_.requests["m1"];
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_FALSE(requests[0].known_policy_digest.has_value());
  EXPECT_EQ(requests[2].known_policy_digest, Grant(7, 0).policy_digest);
  EXPECT_EQ(requests[2].underlay, "198.18.0.1");
}

TEST_F(MasterClientLinkTest, FailsOverToTheNextMasterThenAround) {
  MakeLink(3);
  M(1).joins.push_back(Grant(7, 0x5a));
  M(1).serves.push_back(Drops());
  // m2 refuses the connection, m3 times out, m1 is still dead (round one,
  // each after up to 1 s); m2 is back (round two, up to 2 s).
  M(3).joins.push_back(Timeout("TLS handshake timed out after 5000 ms"));
  M(2).joins.push_back(Unavailable("cannot connect: Connection refused"));
  M(2).joins.push_back(Grant(7, 0x5a));
  ASSERT_TRUE(link_->Join("blue").ok());
  ASSERT_TRUE(WaitForUpdates(1));
  EXPECT_EQ(link_->current_master(), 1u);
  // Requests go to the master that serves the member channel now.
  EXPECT_TRUE(link_->ReportVm("blue", "web", "", true).ok());
  StopLink();
  EXPECT_EQ(journal_.Joins(),
            (std::vector<std::string>{"m1 join", "m2 join", "m3 join",
                                      "m1 join", "m2 join"}));
  EXPECT_NE(
      std::find(journal_.calls.begin(), journal_.calls.end(), "m2 report web"),
      journal_.calls.end());
  EXPECT_EQ(std::count_if(journal_.calls.begin(), journal_.calls.end(),
                          [](const std::string& c) {
                            return c.find(" report ") != std::string::npos;
                          }),
            1);
  EXPECT_EQ(journal_.sleeps,
            (std::vector<milliseconds>{milliseconds(500), milliseconds(500),
                                       milliseconds(500), milliseconds(1000)}));
  // Same epoch and key: handed over as they are (TvdProxy changes nothing).
  ASSERT_EQ(journal_.updates.size(), 1u);
  EXPECT_EQ(journal_.updates[0].kind, MasterUpdate::Kind::kMembers);
  EXPECT_EQ(journal_.updates[0].key_epoch, 7u);
  EXPECT_EQ(journal_.updates[0].members,
            (std::vector<Member>{{"host-a", "198.18.0.1"},
                                 {"host-b", "198.18.0.2"}}));
  // The dead master's member channel was closed before moving on.
  EXPECT_GE(journal_.closes["m1"], 1);
}

TEST_F(MasterClientLinkTest, ALeaveNoticeIsFinal) {
  MakeLink(2);
  M(1).joins.push_back(Grant(7, 0x5a));
  M(1).serves.push_back([](const protocol::MasterEvents& ev) {
    ev.on_leave({"blue", "host-a", "re-attestation failed: PCR 16"});
    return Status::Ok();
  });
  M(2).joins.push_back(Grant(7, 0x5a));  // must never be asked
  ASSERT_TRUE(link_->Join("blue").ok());
  ASSERT_TRUE(WaitForUpdates(1));
  StopLink();
  EXPECT_EQ(journal_.calls, (std::vector<std::string>{"m1 join", "m1 serve"}));
  EXPECT_TRUE(journal_.sleeps.empty());
  ASSERT_EQ(journal_.updates.size(), 1u);
  EXPECT_EQ(journal_.updates[0].kind, MasterUpdate::Kind::kEvicted);
  EXPECT_EQ(journal_.updates[0].reason, "re-attestation failed: PCR 16");
}

// The master answers our Leave and closes the member channel; the channel
// may end before its LeaveNotice is read. Never a rejoin.
TEST_F(MasterClientLinkTest, OurOwnLeaveIsNeverFollowedByARejoin) {
  MakeLink(2);
  M(1).joins.push_back(Grant(7, 0x5a));
  Journal& j = journal_;
  M(1).serves.push_back([&j](const protocol::MasterEvents&) {
    j.WaitFor([&] { return j.leave_called; });
    return Unavailable("channel is closed");
  });
  M(2).joins.push_back(Grant(7, 0x5a));
  ASSERT_TRUE(link_->Join("blue").ok());
  ASSERT_TRUE(journal_.WaitFor([&] { return journal_.calls.size() >= 2; }));
  EXPECT_TRUE(link_->Leave("blue").ok());
  StopLink();
  EXPECT_EQ(journal_.calls,
            (std::vector<std::string>{"m1 join", "m1 serve",
                                      "m1 leave blue (operator request)"}));
  EXPECT_TRUE(journal_.sleeps.empty());
  EXPECT_TRUE(journal_.updates.empty());
}

TEST_F(MasterClientLinkTest, ARefusedRejoinIsAnEvictionAndFinal) {
  MakeLink(3);
  M(1).joins.push_back(Grant(7, 0x5a));
  M(1).serves.push_back(Drops());
  M(2).joins.push_back(
      PermissionDenied("peer: host host-a is not authorized for TVD blue"));
  M(3).joins.push_back(Grant(7, 0x5a));  // must never be asked
  ASSERT_TRUE(link_->Join("blue").ok());
  ASSERT_TRUE(WaitForUpdates(1));
  StopLink();
  EXPECT_EQ(journal_.Joins(), (std::vector<std::string>{"m1 join", "m2 join"}));
  ASSERT_EQ(journal_.updates.size(), 1u);
  EXPECT_EQ(journal_.updates[0].kind, MasterUpdate::Kind::kEvicted);
  EXPECT_EQ(journal_.updates[0].reason,
            "peer: host host-a is not authorized for TVD blue");
}

TEST_F(MasterClientLinkTest, AFailedAttestationAtTheNewMasterIsFinal) {
  MakeLink(3);
  M(1).joins.push_back(Grant(7, 0x5a));
  M(1).serves.push_back(Drops());
  // A TLS failure at m2 is that master's problem; m3's verdict is final.
  M(2).joins.push_back(
      Unauthenticated("TLS handshake failed: peer closed the connection"));
  M(3).joins.push_back(
      Unauthenticated("peer: PCR 16 does not hold a known-good value"));
  M(1).joins.push_back(Grant(7, 0x5a));  // must never be asked again
  ASSERT_TRUE(link_->Join("blue").ok());
  ASSERT_TRUE(WaitForUpdates(1));
  StopLink();
  EXPECT_EQ(journal_.Joins(),
            (std::vector<std::string>{"m1 join", "m2 join", "m3 join"}));
  ASSERT_EQ(journal_.updates.size(), 1u);
  EXPECT_EQ(journal_.updates[0].kind, MasterUpdate::Kind::kEvicted);
  EXPECT_EQ(journal_.updates[0].reason,
            "peer: PCR 16 does not hold a known-good value");
}

// The TVD's policy changed while the host had no master: the new policy
// first, then the membership with the new epoch.
TEST_F(MasterClientLinkTest, ARejoinWithAnotherPolicyHandsItOverFirst) {
  MakeLink(2);
  M(1).joins.push_back(Grant(7, 0x5a));
  M(1).serves.push_back(Drops());
  M(2).joins.push_back(Grant(8, 0x77, /*interval=*/30));
  ASSERT_TRUE(link_->Join("blue").ok());
  ASSERT_TRUE(WaitForUpdates(2));
  StopLink();
  ASSERT_EQ(journal_.updates.size(), 2u);
  EXPECT_EQ(journal_.updates[0].kind, MasterUpdate::Kind::kPolicy);
  ASSERT_TRUE(journal_.updates[0].policy.has_value());
  EXPECT_EQ(journal_.updates[0]
                .policy->host_requirements.attestation_interval_seconds,
            30u);
  EXPECT_EQ(journal_.updates[1].kind, MasterUpdate::Kind::kMembers);
  EXPECT_EQ(journal_.updates[1].key_epoch, 8u);
}

TEST_F(MasterClientLinkTest, TheFirstJoinTriesEachMasterOnce) {
  MakeLink(3);
  M(2).joins.push_back(Grant(7, 0x5a));
  auto g = link_->Join("blue");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(link_->current_master(), 1u);
  EXPECT_TRUE(journal_.sleeps.empty());
  StopLink();
  EXPECT_EQ(journal_.Joins(), (std::vector<std::string>{"m1 join", "m2 join"}));
}

TEST_F(MasterClientLinkTest, TheFirstJoinStopsAtARefusal) {
  MakeLink(3);
  M(2).joins.push_back(NotFound("peer: no TVD named blue"));
  M(3).joins.push_back(Grant(7, 0x5a));  // must never be asked
  EXPECT_EQ(link_->Join("blue").status(), NotFound("peer: no TVD named blue"));
  EXPECT_EQ(journal_.Joins(), (std::vector<std::string>{"m1 join", "m2 join"}));
}

TEST_F(MasterClientLinkTest, NoMasterReachableNamesEach) {
  MakeLink(2);
  M(2).joins.push_back(Timeout("TLS handshake timed out after 5000 ms"));
  EXPECT_EQ(link_->Join("blue").status(),
            Unavailable("no master could serve: 127.0.0.1:7401: cannot "
                        "connect to 127.0.0.1:7401: Connection refused; "
                        "127.0.0.1:7402: TLS handshake timed out after 5000 "
                        "ms"));
}

TEST_F(MasterClientLinkTest, OneUnreachableMasterGivesItsOwnError) {
  MakeLink(1);
  EXPECT_EQ(link_->Join("blue").status(),
            Unavailable("cannot connect to 127.0.0.1:7401: Connection "
                        "refused"));
  MakeLink(1);  // the journal goes on; only the new link's master counts
  M(2).joins.push_back(
      Unauthenticated("server is host:node9, expected host:tvd-master"));
  EXPECT_EQ(link_->Join("blue").status(),
            Unauthenticated("server is host:node9, expected host:tvd-master"));
}

// Leave and disk keys, which a master may answer twice without harm, go on
// to the next master when theirs is unreachable; a usage claim and an
// answer (even a refusal) do not.
TEST_F(MasterClientLinkTest, WhichRequestsFailOver) {
  MakeLink(3);
  M(1).joins.push_back(Grant(7, 0x5a));
  ASSERT_TRUE(link_->Join("blue").ok());
  M(1).disk_key_result = Unavailable("cannot connect to 127.0.0.1:7401");
  M(1).claim_result = Unavailable("cannot connect to 127.0.0.1:7401");
  M(1).report_result = Unavailable("cannot connect to 127.0.0.1:7401");
  M(2).disk_key_result = PermissionDenied("peer: no disk key for VM 'web'");
  EXPECT_EQ(link_->RequestDiskKey("blue", "web").status(),
            PermissionDenied("peer: no disk key for VM 'web'"));
  EXPECT_EQ(link_->ClaimUsage("blue", {}, {}),
            Unavailable("cannot connect to 127.0.0.1:7401"));
  EXPECT_EQ(link_->ReportVm("blue", "web", "", true),
            Unavailable("cannot connect to 127.0.0.1:7401"));
  M(1).leave_result = Unavailable("cannot connect to 127.0.0.1:7401");
  M(2).leave_result = Unavailable("cannot connect to 127.0.0.1:7402");
  EXPECT_TRUE(link_->Leave("blue").ok());
  StopLink();
  std::vector<std::string> requests;
  for (const std::string& c : journal_.calls) {
    if (!c.ends_with(" join") && !c.ends_with(" serve")) requests.push_back(c);
  }
  EXPECT_EQ(requests,
            (std::vector<std::string>{
                "m1 disk-key blue/web", "m2 disk-key blue/web", "m1 claim blue",
                "m1 report web", "m1 leave blue (operator request)",
                "m2 leave blue (operator request)",
                "m3 leave blue (operator request)"}));
}

// vTPM requests fail over like the disk key (a master that did not answer
// has given nothing); a grant for another VM is refused.
TEST_F(MasterClientLinkTest, VtpmRequestsFailOverAndAreChecked) {
  MakeLink(2);
  M(1).joins.push_back(Grant(7, 0x5a));
  ASSERT_TRUE(link_->Join("blue").ok());
  M(1).vtpm_key_result = Unavailable("cannot connect to 127.0.0.1:7401");
  M(1).record_result = Unavailable("cannot connect to 127.0.0.1:7401");
  auto key = link_->RequestVtpmKey("blue", "web");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_TRUE(link_->RecordVtpm("blue", "web", {1}, {2}).ok());
  M(1).vtpm_key_result = Status::Ok();
  M(1).vtpm_grant_vm = "db";
  EXPECT_EQ(link_->RequestVtpmKey("blue", "web").status(),
            ProtocolError("master sent the vTPM key of 'blue/db' for "
                          "'blue/web'"));
  M(1).record_result = PermissionDenied(
      "peer: VM web of TVD blue runs on "
      "host node2, not on node1");
  EXPECT_EQ(link_->RecordVtpm("blue", "web", {1}, {2}),
            PermissionDenied("peer: VM web of TVD blue runs on host node2, "
                             "not on node1"));
  StopLink();
  std::vector<std::string> requests;
  for (const std::string& c : journal_.calls) {
    if (c.find("vtpm") != std::string::npos) requests.push_back(c);
  }
  EXPECT_EQ(requests, (std::vector<std::string>{
                          "m1 vtpm-key blue/web", "m2 vtpm-key blue/web",
                          "m1 vtpm-record blue/web", "m2 vtpm-record blue/web",
                          "m1 vtpm-key blue/web", "m1 vtpm-record blue/web"}));
}

}  // namespace
}  // namespace tvd::proxy
