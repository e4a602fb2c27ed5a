// What a tvd-proxy does with the grant of a rejoin (its master restarted,
// or another master replica took over): the continuation of its
// membership. The same epoch, key and members change nothing on the host;
// a new epoch rekeys the tunnels without tearing anything down; other
// members are applied as the membership update they are; VM reports the
// old master never acknowledged reach the new one. An eviction still ends
// the membership.
#include <gtest/gtest.h>

#include "tvd/protocol/tunnel_key.h"
#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/testing/fake_clock.h"
#include "tvd/testing/proxy_fakes.h"
#include "tvd/testing/proxy_test_util.h"

namespace tvd::proxy {
namespace {

using testing::FakeAdmissionStore;
using testing::FakeHypervisor;
using testing::FakeMaster;
using testing::FakeNetwork;
using testing::MakePolicy;
using testing::MakeVm;
using testing::TempDir;
using testing::TestVm;
using Report = FakeMaster::Report;

class MasterFailoverTest : public ::testing::Test {
 protected:
  MasterFailoverTest()
      : web_(MakeVm(dir_.path(), "web", "blue", "blue-data", "tvdp-web")),
        master_(MakePolicy("blue", 1, {web_})),
        proxy_(std::make_unique<TvdProxy>(
            ProxyConfig{.tvd = "blue",
                        .local_host = "host-a",
                        .local_address = "198.18.0.1"},
            master_, hypervisor_, network_, cache_, admissions_,
            std::make_shared<tvd::testing::FakeClock>())) {
    master_.members = {{"host-b", "198.18.0.2"}};
  }

  // Joined, with web attached: one JoinTvd so far.
  void JoinAndAttach() {
    ASSERT_TRUE(proxy_->Join().ok());
    auto r = proxy_->Attach(web_.config_path);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(network_.join_calls, 1);
  }

  // The update MasterClientLink hands over after a rejoin: the grant's
  // members (this host among them, as a real master lists it), epoch, key.
  MasterUpdate Rejoined(std::uint64_t epoch, std::uint8_t key_byte,
                        std::vector<Member> others = {
                            {"host-b", "198.18.0.2"}}) {
    MasterUpdate u;
    u.kind = MasterUpdate::Kind::kMembers;
    u.members = {{"host-a", "198.18.0.1"}};
    u.members.insert(u.members.end(), others.begin(), others.end());
    u.key_epoch = epoch;
    std::vector<std::uint8_t> key(32, key_byte);
    u.key = SecureBytes(std::span<const std::uint8_t>(key));
    return u;
  }

  // The host's network and VMs as they were after JoinAndAttach.
  void ExpectNothingTornDown() {
    EXPECT_TRUE(network_.joined.contains("blue"));
    EXPECT_TRUE(network_.ports.contains(TapName("blue", 1, "web", 0)));
    EXPECT_TRUE(network_.unplugged.empty());
    EXPECT_TRUE(hypervisor_.domains.contains("web"));
    EXPECT_TRUE(master_.leaves.empty());
    EXPECT_FALSE(proxy_->left());
  }

  TempDir dir_;
  TestVm web_;
  FakeMaster master_;
  FakeHypervisor hypervisor_;
  FakeNetwork network_;
  MeasurementCache cache_;
  FakeAdmissionStore admissions_;
  std::unique_ptr<TvdProxy> proxy_;
};

TEST_F(MasterFailoverTest, SameEpochKeyAndMembersChangeNothing) {
  JoinAndAttach();
  const auto psk_before = network_.psks;
  // FakeMaster granted epoch 7 with a key of 0x5a bytes.
  proxy_->OnMasterUpdate(Rejoined(7, 0x5a));
  EXPECT_EQ(network_.join_calls, 1);  // no rekey, no reprogramming
  EXPECT_EQ(network_.psks, psk_before);
  EXPECT_EQ(proxy_->StatusJson()["key_epoch"], 7);
  ExpectNothingTornDown();
}

TEST_F(MasterFailoverTest, NewEpochRekeysTheTunnelsWithoutTeardown) {
  JoinAndAttach();
  proxy_->OnMasterUpdate(Rejoined(8, 0x77));
  EXPECT_EQ(network_.join_calls, 2);
  std::vector<std::uint8_t> key(32, 0x77);
  auto psk =
      protocol::DeriveTunnelPsk(SecureBytes(std::span<const std::uint8_t>(key)),
                                "blue", "host-a", "host-b", 8);
  ASSERT_TRUE(psk.ok());
  EXPECT_TRUE(psk->Equals(network_.psks["host-b"]));
  EXPECT_EQ(proxy_->StatusJson()["key_epoch"], 8);
  ExpectNothingTornDown();
}

// A key that differs under the same epoch number is a new key all the same.
TEST_F(MasterFailoverTest, AnotherKeyUnderTheSameEpochRekeys) {
  JoinAndAttach();
  proxy_->OnMasterUpdate(Rejoined(7, 0x01));
  EXPECT_EQ(network_.join_calls, 2);
  auto psk = protocol::DeriveTunnelPsk(
      SecureBytes(
          std::span<const std::uint8_t>(std::vector<std::uint8_t>(32, 0x01))),
      "blue", "host-a", "host-b", 7);
  ASSERT_TRUE(psk.ok());
  EXPECT_TRUE(psk->Equals(network_.psks["host-b"]));
  ExpectNothingTornDown();
}

TEST_F(MasterFailoverTest, OtherMembersAreAppliedUnderTheSameKey) {
  JoinAndAttach();
  const auto psk_b = network_.psks["host-b"];
  proxy_->OnMasterUpdate(
      Rejoined(7, 0x5a, {{"host-b", "198.18.0.2"}, {"host-c", "198.18.0.3"}}));
  EXPECT_EQ(network_.join_calls, 2);
  ASSERT_EQ(network_.joined["blue"].peers.size(), 2u);
  EXPECT_EQ(network_.joined["blue"].peers[1].host, "host-c");
  EXPECT_EQ(network_.psks["host-b"], psk_b);  // not rekeyed
  EXPECT_EQ(proxy_->StatusJson()["key_epoch"], 7);
  // A member gone while the host was away is dropped the same way.
  proxy_->OnMasterUpdate(Rejoined(7, 0x5a, {}));
  EXPECT_EQ(network_.join_calls, 3);
  EXPECT_TRUE(network_.joined["blue"].peers.empty());
  ExpectNothingTornDown();
}

// The old master never acknowledged web's attach; the first update after
// the rejoin (at whichever master) sends it again, even when nothing else
// changes.
TEST_F(MasterFailoverTest, PendingVmReportsGoToTheNewMaster) {
  master_.report_error = Unavailable("master down");
  JoinAndAttach();
  ASSERT_EQ(master_.reports.size(), 1u);
  EXPECT_FALSE(master_.reports[0].delivered);
  const std::string uuid = master_.reports[0].uuid;
  master_.report_error = Status::Ok();
  proxy_->OnMasterUpdate(Rejoined(7, 0x5a));
  EXPECT_EQ(master_.reports,
            (std::vector<Report>{{"blue", "web", uuid, true, false},
                                 {"blue", "web", uuid, true, true}}));
  EXPECT_EQ(proxy_->StatusJson()["unreported_vms"], 0);
  EXPECT_EQ(network_.join_calls, 1);
}

TEST_F(MasterFailoverTest, EvictionAfterARejoinStillLeaves) {
  JoinAndAttach();
  proxy_->OnMasterUpdate(Rejoined(7, 0x5a));
  MasterUpdate evicted;
  evicted.kind = MasterUpdate::Kind::kEvicted;
  evicted.reason = "peer: host host-a is not authorized for TVD blue";
  proxy_->OnMasterUpdate(evicted);
  EXPECT_TRUE(proxy_->left());
  EXPECT_FALSE(network_.joined.contains("blue"));
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
}

}  // namespace
}  // namespace tvd::proxy
