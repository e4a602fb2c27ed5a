// The proxy against real daemons: a private libvirtd (test driver for
// define/start, its secret driver for disk keys), a real Open vSwitch and a
// real charon in a test network namespace. The master is the unit tests'
// fake MasterLink: the master protocol is not part of this build yet.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tvd/clock.h"
#include "tvd/proxy/admission_store.h"
#include "tvd/proxy/libvirt_hypervisor.h"
#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/testing/charon.h"
#include "tvd/testing/libvirtd.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/testing/proxy_fakes.h"
#include "tvd/testing/proxy_host_network.h"
#include "tvd/testing/proxy_test_util.h"

namespace tvd::proxy {
namespace {

using proxy::testing::FakeMaster;
using proxy::testing::MakePolicy;
using proxy::testing::MakeVm;
using proxy::testing::TempDir;
using proxy::testing::TestVm;
using proxy::testing::WriteFile;
using tvd::testing::CharonInstance;
using tvd::testing::LibvirtdInstance;
using tvd::testing::TestHost;
using tvd::testing::UniqueName;
using tvd::testing::VmEndpoint;

constexpr char kBridge[] = "br-tvd";

class ProxyRealDaemonsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto host = TestHost::Create(UniqueName("ph"), nullptr, "198.18.0.1");
    ASSERT_TRUE(host.ok()) << host.status().ToString();
    host_ = host->release();
    auto charon = CharonInstance::Start(host_->ns());
    ASSERT_TRUE(charon.ok()) << charon.status().ToString();
    charon_ = charon->release();
    auto libvirtd = LibvirtdInstance::Start();
    ASSERT_TRUE(libvirtd.ok()) << libvirtd.status().ToString();
    libvirtd_ = libvirtd->release();
  }
  static void TearDownTestSuite() {
    delete libvirtd_;
    delete charon_;
    delete host_;
  }

  void SetUp() override {
    ASSERT_NE(libvirtd_, nullptr);
    auto hv = LibvirtHypervisor::Open(libvirtd_->ClientUri("test:///default"),
                                      libvirtd_->ClientUri("secret:///system"));
    ASSERT_TRUE(hv.ok()) << hv.status().ToString();
    hypervisor_ = std::move(hv).value();
    auto network =
        tvd::testing::OpenProxyHostNetwork(*host_, *charon_, kBridge, "host-a");
    ASSERT_TRUE(network.ok()) << network.status().ToString();
    network_ = std::move(network).value();

    tvd_ = UniqueName("t");
    web_ = MakeVm(dir_.path(), UniqueName("web"), tvd_, tvd_ + "-data",
                  UniqueName("pw"));
    db_vm_ = MakeVm(dir_.path(), UniqueName("db"), tvd_, tvd_ + "-data",
                    UniqueName("pd"), /*encrypted=*/true);
    db_vm_.mac = "52:54:00:00:00:02";
    master_ = std::make_unique<FakeMaster>(MakePolicy(tvd_, 7, {web_, db_vm_}));
    // The VMs' host-side interfaces (the test driver creates no taps), by
    // the names the proxy gives them.
    for (const TestVm* vm : {&web_, &db_vm_}) {
      auto ep = VmEndpoint::Create(
          host_->ns().name(), Tap(*vm), vm->mac,
          "198.19.0." + std::to_string(endpoints_.size() + 1));
      ASSERT_TRUE(ep.ok()) << ep.status().ToString();
      endpoints_.push_back(std::move(ep).value());
    }
    store_ = std::make_unique<FileAdmissionStore>(dir_.path() + "/state", tvd_,
                                                  ::geteuid());
    proxy_ = NewProxy();
  }

  std::string Tap(const TestVm& vm) const {
    return TapName(tvd_, 7, vm.name, 0);
  }

  void TearDown() override {
    if (proxy_ && proxy_->joined()) (void)proxy_->Leave();
  }

  std::unique_ptr<TvdProxy> NewProxy() {
    return std::make_unique<TvdProxy>(
        ProxyConfig{.tvd = tvd_,
                    .local_host = "host-a",
                    .local_address = host_->address()},
        *master_, *hypervisor_, network_->network(), cache_, *store_,
        std::make_shared<SteadyClock>());
  }

  std::vector<std::string> DomainsOf(const std::string& tvd) {
    std::vector<std::string> out;
    auto list = hypervisor_->ListDomains();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const DomainSummary& d : *list) {
      if (d.owner_tvd == tvd) out.push_back(d.name);
    }
    return out;
  }

  // The same, as a set of names.
  std::set<std::string> PortSetOf(const std::string& tvd) {
    std::set<std::string> out;
    std::istringstream lines(PortsOf(tvd));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) out.insert(line);
    }
    return out;
  }

  // Names of the VM ports OVS records as belonging to `tvd`.
  std::string PortsOf(const std::string& tvd) {
    auto out = host_->ovs().Vsctl(
        {"--format=csv", "--no-headings", "--columns=name", "find", "Port",
         "external_ids:tvd=" + tvd, "external_ids:tvd-kind=vm"});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : "error";
  }

  static TestHost* host_;
  static CharonInstance* charon_;
  static LibvirtdInstance* libvirtd_;

  TempDir dir_;
  std::unique_ptr<LibvirtHypervisor> hypervisor_;
  std::unique_ptr<tvd::testing::ProxyHostNetwork> network_;
  std::string tvd_;
  TestVm web_;
  TestVm db_vm_;
  std::unique_ptr<FakeMaster> master_;
  std::vector<std::unique_ptr<VmEndpoint>> endpoints_;
  MeasurementCache cache_;
  std::unique_ptr<FileAdmissionStore> store_;
  std::unique_ptr<TvdProxy> proxy_;
};

TestHost* ProxyRealDaemonsTest::host_ = nullptr;
CharonInstance* ProxyRealDaemonsTest::charon_ = nullptr;
LibvirtdInstance* ProxyRealDaemonsTest::libvirtd_ = nullptr;

TEST_F(ProxyRealDaemonsTest, AttachDetachAndLeaveLeaveNothingBehind) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto web = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(web.ok()) << web.status().ToString();
  auto db = proxy_->Attach(db_vm_.config_path);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*web)["ports"], nlohmann::json::array({Tap(web_)}));
  EXPECT_EQ((*db)["ports"], nlohmann::json::array({Tap(db_vm_)}));

  // libvirt runs both with the TVD metadata; OVS has their ports.
  auto domains = DomainsOf(tvd_);
  EXPECT_EQ(domains.size(), 2u);
  std::string ports = PortsOf(tvd_);
  EXPECT_EQ(PortSetOf(tvd_), (std::set<std::string>{Tap(web_), Tap(db_vm_)}))
      << ports;
  // libvirt's domain has the proxy's tap name, not the configuration's.
  auto web_xml = hypervisor_->DomainXml(web_.name);
  ASSERT_TRUE(web_xml.ok());
  EXPECT_NE(web_xml->find("<target dev='" + Tap(web_) + "'/>"),
            std::string::npos)
      << *web_xml;
  // The disk key is an ephemeral private libvirt secret, referenced by the
  // domain's disk.
  auto secrets = hypervisor_->ListSecrets("tvd/" + tvd_ + "/");
  ASSERT_TRUE(secrets.ok()) << secrets.status().ToString();
  ASSERT_EQ(secrets->size(), 1u);
  auto xml = hypervisor_->DomainXml(db_vm_.name);
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find((*secrets)[0]), std::string::npos) << *xml;
  {
    // libvirt itself says: ephemeral (never on disk), private (the value
    // cannot be read back through the API).
    virConnectPtr conn =
        virConnectOpen(libvirtd_->ClientUri("secret:///system").c_str());
    ASSERT_NE(conn, nullptr);
    virSecretPtr sec = virSecretLookupByUUIDString(conn, (*secrets)[0].c_str());
    ASSERT_NE(sec, nullptr);
    char* desc = virSecretGetXMLDesc(sec, 0);
    ASSERT_NE(desc, nullptr);
    std::string d(desc);
    std::free(desc);
    EXPECT_NE(d.find("ephemeral='yes'"), std::string::npos) << d;
    EXPECT_NE(d.find("private='yes'"), std::string::npos) << d;
    std::size_t size = 0;
    unsigned char* value = virSecretGetValue(sec, &size, 0);
    EXPECT_EQ(value, nullptr);
    std::free(value);
    virSecretFree(sec);
    virConnectClose(conn);
  }

  {
    Status s = proxy_->Detach(web_.name);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(DomainsOf(tvd_), std::vector<std::string>{db_vm_.name});
  EXPECT_EQ(PortSetOf(tvd_), std::set<std::string>{Tap(db_vm_)});

  {
    Status s = proxy_->Leave();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_TRUE(DomainsOf(tvd_).empty());
  EXPECT_EQ(PortsOf(tvd_), "");
  auto all_ports =
      host_->ovs().Vsctl({"--format=csv", "--no-headings", "--columns=name",
                          "find", "Port", "external_ids:tvd=" + tvd_});
  ASSERT_TRUE(all_ports.ok());
  EXPECT_EQ(*all_ports, "");  // no VXLAN port either
  secrets = hypervisor_->ListSecrets("tvd/" + tvd_ + "/");
  ASSERT_TRUE(secrets.ok());
  EXPECT_TRUE(secrets->empty());
  auto bridge_ids =
      host_->ovs().Vsctl({"get", "Bridge", kBridge, "external_ids"});
  ASSERT_TRUE(bridge_ids.ok());
  EXPECT_EQ(bridge_ids->find("tvd-vlan:" + tvd_ + ":"), std::string::npos)
      << *bridge_ids;
}

TEST_F(ProxyRealDaemonsTest, WrongMeasurementIsRefusedAndNothingStarts) {
  ASSERT_TRUE(proxy_->Join().ok());
  const std::string good = ToHex(*Sha256File(web_.initrd));
  WriteFile(web_.initrd, "an initrd nobody approved");
  auto r = proxy_->Attach(web_.config_path);
  EXPECT_EQ(r.status(),
            PermissionDenied("VM '" + web_.name + "': measured initrd (" +
                             web_.initrd + ") has sha256 " +
                             ToHex(Sha256("an initrd nobody approved")) +
                             " but TVD '" + tvd_ + "' expects " + good));
  EXPECT_TRUE(DomainsOf(tvd_).empty());
  EXPECT_EQ(PortsOf(tvd_), "");
}

TEST_F(ProxyRealDaemonsTest, RestartedProxyReconcilesFromLibvirtAndOvsdb) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  // The process dies; a new one starts with nothing in memory.
  proxy_.reset();
  proxy_ = NewProxy();
  ASSERT_TRUE(proxy_->Join().ok());
  auto status = proxy_->StatusJson();
  ASSERT_EQ(status["vms"].size(), 1u) << status.dump();
  EXPECT_EQ(status["vms"][0]["name"], web_.name);
  EXPECT_EQ(PortSetOf(tvd_), std::set<std::string>{Tap(web_)});
  {
    Status s = proxy_->Leave();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_TRUE(DomainsOf(tvd_).empty());
  EXPECT_EQ(PortsOf(tvd_), "");
  EXPECT_FALSE(std::filesystem::exists(store_->path()));
}

TEST_F(ProxyRealDaemonsTest, RestartedProxyPlugsOnlyTheVmsItAdmitted) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  // A tenant defines a domain of the TVD through libvirt, never measured,
  // whose NIC names an existing device of the host (here db's veth, which
  // stands for the uplink).
  TestVm rogue = MakeVm(dir_.path(), UniqueName("rogue"), tvd_, tvd_ + "-data",
                        Tap(db_vm_));
  rogue.mac = "52:54:00:00:00:66";
  {
    std::ifstream in(rogue.config_path);
    std::stringstream xml;
    xml << in.rdbuf();
    Status s = hypervisor_->DefineAndStart(xml.str());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // An earlier proxy version adopted it and plugged the device its NIC
  // names; the switch still has that port when the new proxy starts.
  {
    Status s = network_->host_network().PlugVmPort(
        {Tap(db_vm_), tvd_, tvd_ + "-data", rogue.name, rogue.mac, ""});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ASSERT_EQ(PortSetOf(tvd_), (std::set<std::string>{Tap(web_), Tap(db_vm_)}));
  {
    auto flows = host_->ovs().DumpFlows(kBridge);
    ASSERT_TRUE(flows.ok()) << flows.status().ToString();
    ASSERT_NE(flows->find("dl_src=" + rogue.mac), std::string::npos) << *flows;
  }
  proxy_.reset();
  proxy_ = NewProxy();
  {
    Status s = proxy_->Join();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Only the admitted VM's port exists in OVS after the restart: the
  // rogue domain's port is gone from the bridge, its Port row and its
  // flows from the switch.
  EXPECT_EQ(PortSetOf(tvd_), std::set<std::string>{Tap(web_)});
  auto all = host_->ovs().Vsctl({"list-ports", kBridge});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->find(Tap(db_vm_)), std::string::npos) << *all;
  auto rows =
      host_->ovs().Vsctl({"--format=csv", "--no-headings", "--columns=name",
                          "find", "Port", "name=" + Tap(db_vm_)});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, "");
  auto flows = host_->ovs().DumpFlows(kBridge);
  ASSERT_TRUE(flows.ok()) << flows.status().ToString();
  EXPECT_EQ(flows->find("dl_src=" + rogue.mac), std::string::npos) << *flows;
  auto status = proxy_->StatusJson();
  ASSERT_EQ(status["vms"].size(), 1u) << status.dump();
  EXPECT_EQ(status["vms"][0]["name"], web_.name);
  // Leave still removes every domain of the TVD, the rogue one too.
  {
    Status s = proxy_->Leave();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_TRUE(DomainsOf(tvd_).empty());
}

}  // namespace
}  // namespace tvd::proxy
