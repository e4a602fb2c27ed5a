// The proxy's part of a deep quote (docs/vtpm.md): a GuestQuoteOrder from
// the master reaches the guest of an attached VM through the hypervisor,
// and the guest's answer, or why there is none, goes back to the master.
// Fakes for the master, libvirt and the vTPM states.
#include <gtest/gtest.h>

#include "tvd/attest/guest_quote.h"
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
using testing::FakeVtpmStates;
using testing::MakePolicy;
using testing::MakeVm;
using testing::TempDir;
using testing::TestVm;

attest::GuestQuoteAnswer GuestAnswer() {
  attest::GuestQuoteAnswer a;
  a.ak_public = {0x00, 0x02, 0xaa, 0xbb};
  a.attest = {0xff, 0x54, 0x43, 0x47};
  a.signature = {0x00, 0x18, 0x00, 0x0b};
  attest::GuestPcr pcr;
  pcr.index = 16;
  pcr.value.fill(0x16);
  a.pcrs = {pcr};
  return a;
}

class GuestQuoteRelayTest : public ::testing::Test {
 protected:
  GuestQuoteRelayTest()
      : web_(MakeVm(dir_.path(), "web", "blue", "blue-data", "tvdp-web",
                    /*encrypted=*/false, "", /*vtpm=*/true)),
        plain_(MakeVm(dir_.path(), "plain", "blue", "blue-data", "tvdp-plain",
                      /*encrypted=*/false, "", /*vtpm=*/false)),
        master_(MakePolicy("blue", 1, {web_, plain_})) {}

  void SetUp() override {
    proxy_ = std::make_unique<TvdProxy>(
        ProxyConfig{.tvd = "blue",
                    .local_host = "host-a",
                    .local_address = "198.18.0.1"},
        master_, hypervisor_, network_, cache_, admissions_, clock_, &vtpms_);
    ASSERT_TRUE(proxy_->Join().ok());
  }

  // The master's order for VM `vm` of `tvd`, as the link delivers it.
  void Order(const std::string& tvd, const std::string& vm) {
    MasterUpdate u;
    u.kind = MasterUpdate::Kind::kGuestQuote;
    u.guest_quote = {41, tvd, vm, std::vector<std::uint8_t>(32, 0x5e),
                     {0, 16}};
    proxy_->OnMasterUpdate(u);
  }

  TempDir dir_;
  TestVm web_;
  TestVm plain_;
  FakeMaster master_;
  FakeHypervisor hypervisor_;
  FakeNetwork network_;
  MeasurementCache cache_;
  FakeAdmissionStore admissions_;
  FakeVtpmStates vtpms_;
  std::shared_ptr<tvd::testing::FakeClock> clock_ =
      std::make_shared<tvd::testing::FakeClock>();
  std::unique_ptr<TvdProxy> proxy_;
};

TEST_F(GuestQuoteRelayTest, TheGuestsAnswerGoesToTheMasterAsItCame) {
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  hypervisor_.guest_answers.emplace("web", GuestAnswer());
  Order("blue", "web");
  // The guest was asked exactly what the master asked.
  ASSERT_EQ(hypervisor_.guest_requests.size(), 1u);
  EXPECT_EQ(hypervisor_.guest_requests[0].first, "web");
  EXPECT_EQ(hypervisor_.guest_requests[0].second.nonce,
            std::vector<std::uint8_t>(32, 0x5e));
  EXPECT_EQ(hypervisor_.guest_requests[0].second.pcrs,
            (std::vector<std::uint32_t>{0, 16}));
  ASSERT_EQ(master_.guest_quote_reports.size(), 1u);
  const protocol::GuestQuoteReport& r = master_.guest_quote_reports[0];
  EXPECT_EQ(r.id, 41u);
  EXPECT_EQ(r.tvd, "blue");
  EXPECT_EQ(r.vm, "web");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.answer, *attest::FormatGuestQuoteAnswer(GuestAnswer()));
}

TEST_F(GuestQuoteRelayTest, AGuestThatDoesNotAnswerIsReportedAsSuch) {
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  Order("blue", "web");
  ASSERT_EQ(master_.guest_quote_reports.size(), 1u);
  EXPECT_EQ(master_.guest_quote_reports[0].answer, "");
  EXPECT_EQ(master_.guest_quote_reports[0].error,
            "guest agent did not answer within 5000 ms");
}

TEST_F(GuestQuoteRelayTest, OnlyAttachedVmsOfThisTvdAreAsked) {
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  hypervisor_.guest_answers.emplace("web", GuestAnswer());
  Order("blue", "db");
  Order("red", "web");
  EXPECT_TRUE(hypervisor_.guest_requests.empty());
  ASSERT_EQ(master_.guest_quote_reports.size(), 2u);
  EXPECT_EQ(master_.guest_quote_reports[0].error,
            "VM 'db' of TVD 'blue' is not attached on host host-a");
  EXPECT_EQ(master_.guest_quote_reports[1].error,
            "the proxy of TVD 'blue' got an order for TVD 'red'");
  EXPECT_EQ(master_.guest_quote_reports[1].tvd, "red");
}

TEST_F(GuestQuoteRelayTest, AVmWithoutAVtpmHasNoChannelToAsk) {
  ASSERT_TRUE(proxy_->Attach(plain_.config_path).ok());
  Order("blue", "plain");
  ASSERT_EQ(master_.guest_quote_reports.size(), 1u);
  EXPECT_EQ(master_.guest_quote_reports[0].error,
            "domain 'plain' has no attestation channel");
}

}  // namespace
}  // namespace tvd::proxy
