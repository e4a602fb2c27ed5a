// LockState and the decoding of lock replies, lock notifications and the
// _Server probe: pure, time passed in.
#include "tvd/master/lock_state.h"

#include <gtest/gtest.h>

namespace tvd::master {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using Phase = LockState::Phase;

const LockTiming kTiming{milliseconds(1000), milliseconds(2000)};
const LockClock::time_point T0{};  // any origin: only differences count

ServerStatus Leader() { return {"clustered", true, true, 42}; }

TEST(LockDecodeTest, LockReply) {
  EXPECT_EQ(*DecodeLockReply(Json{{"locked", true}}), true);
  EXPECT_EQ(*DecodeLockReply(Json{{"locked", false}}), false);
  EXPECT_EQ(DecodeLockReply(Json::array()).status().ToString(),
            "protocol: OVSDB lock reply: result is not an object: []");
  EXPECT_EQ(DecodeLockReply(Json{{"locked", "yes"}}).status().ToString(),
            "protocol: OVSDB lock reply: no boolean 'locked' in "
            "{\"locked\":\"yes\"}");
}

TEST(LockDecodeTest, Notifications) {
  EXPECT_EQ(
      *DecodeLockNotification("locked", Json::array({"duties"}), "duties"),
      LockNotice::kLocked);
  EXPECT_EQ(
      *DecodeLockNotification("stolen", Json::array({"duties"}), "duties"),
      LockNotice::kStolen);
  EXPECT_EQ(DecodeLockNotification("update", Json::array({"duties"}), "duties")
                .status()
                .ToString(),
            "protocol: OVSDB 'update' notification: not a lock "
            "notification");
  EXPECT_EQ(DecodeLockNotification("locked", Json::array({"other"}), "duties")
                .status()
                .ToString(),
            "protocol: OVSDB 'locked' notification: for lock 'other', "
            "this client holds 'duties'");
  EXPECT_EQ(DecodeLockNotification("stolen", Json::array({1}), "duties")
                .status()
                .ToString(),
            "protocol: OVSDB 'stolen' notification: params are not "
            "[lock name]: [1]");
  EXPECT_EQ(
      DecodeLockNotification("locked", Json::array({"duties", "x"}), "duties")
          .status()
          .ToString(),
      "protocol: OVSDB 'locked' notification: params are not [lock "
      "name]: [\"duties\",\"x\"]");
}

Json Rows(Json row) {
  return Json::array({Json{{"rows", Json::array({std::move(row)})}}});
}

TEST(LockDecodeTest, ServerStatus) {
  auto s = DecodeServerStatus(Rows({{"model", "clustered"},
                                    {"connected", true},
                                    {"leader", true},
                                    {"index", 17}}),
                              "TVD_Master");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->model, "clustered");
  EXPECT_TRUE(s->may_hold());
  EXPECT_EQ(s->index, 17);

  s = DecodeServerStatus(Rows({{"model", "standalone"},
                               {"connected", true},
                               {"leader", true},
                               {"index", Json::array({"set", Json::array()})}}),
                         "TVD_Master");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->may_hold());
  EXPECT_FALSE(s->index.has_value());

  s = DecodeServerStatus(Rows({{"model", "clustered"},
                               {"connected", true},
                               {"leader", false},
                               {"index", 3}}),
                         "TVD_Master");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->may_hold());
  s = DecodeServerStatus(
      Rows({{"model", "clustered"}, {"connected", false}, {"leader", true}}),
      "TVD_Master");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->may_hold());  // a leader cut off from its cluster
  s = DecodeServerStatus(
      Rows({{"model", "relay"}, {"connected", true}, {"leader", true}}),
      "TVD_Master");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->may_hold());

  EXPECT_EQ(DecodeServerStatus(Json::array({Json{{"rows", Json::array()}}}),
                               "TVD_Master")
                .status()
                .ToString(),
            "protocol: _Server Database row: 0 rows for database "
            "TVD_Master");
  EXPECT_EQ(
      DecodeServerStatus(
          Rows({{"model", "clustered"}, {"connected", 1}, {"leader", true}}),
          "TVD_Master")
          .status()
          .ToString(),
      "protocol: _Server Database row: 'connected' is not a "
      "boolean");
  EXPECT_EQ(DecodeServerStatus(Rows({{"model", "clustered"},
                                     {"connected", true},
                                     {"leader", true},
                                     {"index", "7"}}),
                               "TVD_Master")
                .status()
                .ToString(),
            "protocol: _Server Database row: 'index' is neither an "
            "integer nor an empty set");
  EXPECT_EQ(DecodeServerStatus(Json::array({Json{{"error", "unknown table"}}}),
                               "TVD_Master")
                .status()
                .ToString(),
            "protocol: _Server Database row: select failed: \"unknown "
            "table\"");
  EXPECT_EQ(
      DecodeServerStatus(Json{{"rows", 1}}, "TVD_Master").status().ToString(),
      "protocol: _Server Database row: transact result is not [ "
      "{rows} ]");
}

TEST(LockStateTest, HoldsOnlyAfterSettleAndWhileConfirmed) {
  LockState s(kTiming);
  EXPECT_EQ(s.phase(), Phase::kDisconnected);
  EXPECT_FALSE(s.Holding(T0));
  s.Connected(T0);
  EXPECT_EQ(s.phase(), Phase::kWaiting);
  ASSERT_TRUE(s.OnLockReply(true, T0 + milliseconds(10)).ok());
  EXPECT_EQ(s.phase(), Phase::kGranted);
  EXPECT_EQ(s.holding_from(), T0 + milliseconds(2010));
  // Granted but not settled: another holder may still be acting.
  EXPECT_FALSE(s.Holding(T0 + milliseconds(500)));
  // Settled, but the last confirmation was sent at T0: past `hold`.
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2010)));
  s.OnProbe(Leader(), T0 + milliseconds(1500));
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2009)));
  EXPECT_TRUE(s.Holding(T0 + milliseconds(2010)));
  EXPECT_TRUE(s.Holding(T0 + milliseconds(2499)));
  // A probe sent at 1500 covers until 2500, exclusive.
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2500)));
  s.OnProbe(Leader(), T0 + milliseconds(2400));
  EXPECT_TRUE(s.Holding(T0 + milliseconds(3399)));
  // An older probe's late reply does not move the confirmation back.
  s.OnProbe(Leader(), T0 + milliseconds(2000));
  EXPECT_EQ(s.confirmed(), T0 + milliseconds(2400));
}

TEST(LockStateTest, QueuedThenLockedNotification) {
  LockState s(kTiming);
  s.Connected(T0);
  ASSERT_TRUE(s.OnLockReply(false, T0).ok());
  EXPECT_EQ(s.phase(), Phase::kWaiting);
  EXPECT_FALSE(s.holding_from().has_value());
  ASSERT_TRUE(s.OnNotice(LockNotice::kLocked, T0 + milliseconds(5000)).ok());
  EXPECT_EQ(s.phase(), Phase::kGranted);
  s.OnProbe(Leader(), T0 + milliseconds(6900));
  EXPECT_FALSE(s.Holding(T0 + milliseconds(6999)));
  EXPECT_TRUE(s.Holding(T0 + milliseconds(7000)));
}

TEST(LockStateTest, StolenEndsHoldingAtOnce) {
  LockState s(kTiming);
  s.Connected(T0);
  ASSERT_TRUE(s.OnLockReply(true, T0).ok());
  s.OnProbe(Leader(), T0 + milliseconds(2000));
  ASSERT_TRUE(s.Holding(T0 + milliseconds(2100)));
  ASSERT_TRUE(s.OnNotice(LockNotice::kStolen, T0 + milliseconds(2100)).ok());
  EXPECT_EQ(s.phase(), Phase::kWaiting);
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2100)));
}

TEST(LockStateTest, AProbeThatSaysNotLeaderEndsEverything) {
  LockState s(kTiming);
  s.Connected(T0);
  ASSERT_TRUE(s.OnLockReply(true, T0).ok());
  s.OnProbe(Leader(), T0 + milliseconds(2000));
  ASSERT_TRUE(s.Holding(T0 + milliseconds(2000)));
  s.OnProbe({"clustered", true, false, 50}, T0 + milliseconds(2100));
  EXPECT_EQ(s.phase(), Phase::kDisconnected);
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2100)));
  EXPECT_FALSE(s.confirmed().has_value());
  // Probes after the drop change nothing.
  s.OnProbe(Leader(), T0 + milliseconds(2200));
  EXPECT_EQ(s.phase(), Phase::kDisconnected);
}

TEST(LockStateTest, DisconnectEndsHolding) {
  LockState s(kTiming);
  s.Connected(T0);
  ASSERT_TRUE(s.OnLockReply(true, T0).ok());
  s.OnProbe(Leader(), T0 + milliseconds(2000));
  s.Disconnected();
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2001)));
  // A new connection starts from nothing: a new grant settles again.
  s.Connected(T0 + milliseconds(2100));
  ASSERT_TRUE(s.OnLockReply(true, T0 + milliseconds(2100)).ok());
  EXPECT_FALSE(s.Holding(T0 + milliseconds(2200)));
}

TEST(LockStateTest, OutOfOrderEventsAreRefusedWithTheirPhase) {
  LockState s(kTiming);
  EXPECT_EQ(s.OnLockReply(true, T0).ToString(),
            "failed-precondition: lock reply while disconnected");
  EXPECT_EQ(s.OnNotice(LockNotice::kLocked, T0).ToString(),
            "failed-precondition: 'locked' notification while disconnected");
  s.Connected(T0);
  EXPECT_EQ(s.OnNotice(LockNotice::kStolen, T0).ToString(),
            "failed-precondition: 'stolen' notification while waiting");
  ASSERT_TRUE(s.OnLockReply(true, T0).ok());
  EXPECT_EQ(s.OnLockReply(true, T0).ToString(),
            "failed-precondition: lock reply while granted");
  EXPECT_EQ(s.OnNotice(LockNotice::kLocked, T0).ToString(),
            "failed-precondition: 'locked' notification while granted");
  EXPECT_EQ(s.phase(), Phase::kGranted);  // refused events change nothing
}

}  // namespace
}  // namespace tvd::master
