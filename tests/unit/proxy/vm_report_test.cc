// TvdProxy tells the master about its VMs (attach, detach, VMs adopted on
// join) and never undoes a VM because a report failed; and a VM with a vnet
// outside its TVD (a gateway) is refused with the reason before anything is
// measured.
#include <gtest/gtest.h>

#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/proxy/vm_admission.h"
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

class VmReportTest : public ::testing::Test {
 protected:
  VmReportTest()
      : web_(MakeVm(dir_.path(), "web", "blue", "blue-data", "tvdp-web")),
        gw_(MakeVm(dir_.path(), "gw", "blue", "red-data", "tvdp-gw")),
        master_(MakePolicy("blue", 1, {web_, gw_})) {
    proxy_ = MakeProxy();
  }
  std::unique_ptr<TvdProxy> MakeProxy() {
    return std::make_unique<TvdProxy>(
        ProxyConfig{.tvd = "blue",
                    .local_host = "host-a",
                    .local_address = "198.18.0.1"},
        master_, hypervisor_, network_, cache_, admissions_,
        std::make_shared<tvd::testing::FakeClock>());
  }

  TempDir dir_;
  TestVm web_;
  TestVm gw_;
  FakeMaster master_;
  FakeHypervisor hypervisor_;
  FakeNetwork network_;
  MeasurementCache cache_;
  FakeAdmissionStore admissions_;
  std::unique_ptr<TvdProxy> proxy_;
};

TEST_F(VmReportTest, AttachAndDetachAreReportedWithTheUuid) {
  ASSERT_TRUE(proxy_->Join().ok());
  EXPECT_TRUE(master_.reports.empty());  // nothing to adopt
  auto r = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string uuid = (*r)["uuid"];
  EXPECT_FALSE(uuid.empty());
  ASSERT_TRUE(proxy_->Detach("web").ok());
  EXPECT_EQ(master_.reports,
            (std::vector<Report>{{"blue", "web", uuid, true, true},
                                 {"blue", "web", "", false, true}}));
}

TEST_F(VmReportTest, FailedReportKeepsTheVmAndIsRetriedOnReconnect) {
  ASSERT_TRUE(proxy_->Join().ok());
  master_.report_error = Unavailable("master down");
  auto r = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(r.ok()) << r.status();  // the VM runs regardless
  EXPECT_TRUE(hypervisor_.domains.contains("web"));
  EXPECT_TRUE(network_.ports.contains(TapName("blue", 1, "web", 0)));
  ASSERT_EQ(master_.reports.size(), 1u);
  EXPECT_FALSE(master_.reports[0].delivered);
  EXPECT_EQ(proxy_->StatusJson()["unreported_vms"], 1);

  // The link reconnects: a member update follows, the report is sent again.
  master_.report_error = Status::Ok();
  MasterUpdate rejoined;
  rejoined.kind = MasterUpdate::Kind::kMembers;
  rejoined.members = {{"host-a", "198.18.0.1"}};
  proxy_->OnMasterUpdate(rejoined);
  ASSERT_EQ(master_.reports.size(), 2u);
  EXPECT_EQ(master_.reports[1],
            (Report{"blue", "web", (*r)["uuid"], true, true}));
  EXPECT_EQ(proxy_->StatusJson()["unreported_vms"], 0);
  proxy_->OnMasterUpdate(rejoined);  // nothing left to send
  EXPECT_EQ(master_.reports.size(), 2u);

  // A detach whose report fails replaces the pending attach: only the
  // latest state of a VM is sent.
  master_.report_error = Unavailable("master down");
  ASSERT_TRUE(proxy_->Detach("web").ok());
  master_.report_error = Status::Ok();
  proxy_->OnMasterUpdate(rejoined);
  ASSERT_EQ(master_.reports.size(), 4u);
  EXPECT_EQ(master_.reports[3], (Report{"blue", "web", "", false, true}));
}

TEST_F(VmReportTest, RestartedProxyReportsTheVmsItAdopted) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(r.ok());
  proxy_.reset();  // killed: the domain keeps running
  master_.reports.clear();
  proxy_ = MakeProxy();
  ASSERT_TRUE(proxy_->Join().ok());
  EXPECT_EQ(master_.reports,
            (std::vector<Report>{{"blue", "web", (*r)["uuid"], true, true}}));
}

TEST_F(VmReportTest, LeaveSendsNoPerVmDetaches) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  master_.reports.clear();
  ASSERT_TRUE(proxy_->Leave().ok());
  // The master drops a leaving host's VMs with its membership.
  EXPECT_TRUE(master_.reports.empty());
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
}

TEST_F(VmReportTest, GatewayVmIsRefusedBeforeAnythingIsMeasured) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(gw_.config_path);
  EXPECT_EQ(r.status(),
            PermissionDenied(
                "VM 'gw': vnet 'tvdp-gw' is bound to network 'red-data', "
                "which is not a network of TVD 'blue', and TVD 'blue''s "
                "policy allows VM 'gw' no gateway to another TVD"));
  EXPECT_EQ(cache_.misses(), 0u);
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_TRUE(master_.reports.empty());
}

TEST_F(VmReportTest, GatewayAllowedByThePolicyIsNotSupportedYet) {
  auto vm = policy::ParseVmConfig(testing::DomainXml(gw_, ""), "gw",
                                  policy::VmConfigMode::kTemplateAllowed);
  ASSERT_TRUE(vm.ok()) << vm.status();
  policy::TvdPolicy blue = MakePolicy("blue", 1, {web_, gw_});
  blue.gateways = {{"gw", "red"}, {"gw", "green"}, {"web", "red"}};
  EXPECT_EQ(
      CheckVnetsInOwnTvd(*vm, blue),
      PermissionDenied(
          "VM 'gw': vnet 'tvdp-gw' is bound to network 'red-data' outside TVD "
          "'blue'; the policy of TVD 'blue' lets VM 'gw' be a gateway to TVD "
          "'red', TVD 'green', but gateway VMs are not supported yet: a proxy "
          "cannot check the other TVD's policy nor plug into its networks "
          "(attach the VM with vnets on TVD 'blue''s networks only)"));
  auto own = policy::ParseVmConfig(testing::DomainXml(web_, ""), "web",
                                   policy::VmConfigMode::kTemplateAllowed);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_TRUE(CheckVnetsInOwnTvd(*own, blue).ok());
}

}  // namespace
}  // namespace tvd::proxy
