// Real guests on TVD networks: a test host (its own Open vSwitch and charon
// in a network namespace) with a private libvirtd running the QEMU driver
// in that namespace, and the real TvdProxy (in process; the master is the
// unit tests' FakeMaster). The proxies attach guests of the image
// testbed/guest/build-guest.sh builds; libvirt creates each NIC's tap
// (<interface type='ethernet'>) and the proxy plugs it into OVS. Inside the
// guests (guest-exec over the serial console), a guest pings another of
// its TVD (answered) and one of another TVD (no answer).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "../../unit/proxy/fakes.h"
#include "../../unit/proxy/proxy_test_util.h"
#include "guest_util.h"
#include "tvd/log.h"
#include "tvd/proxy/libvirt_hypervisor.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/testing/charon.h"
#include "tvd/testing/libvirtd.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/vici/vici_tunnel_backend.h"
#include "tvd/vswitch/host_network.h"
#include "tvd/vswitch/link_manager.h"
#include "tvd/vswitch/openflow_client.h"
#include "tvd/vswitch/ovsdb_client.h"
#include "tvd/vswitch/vswitch_database.h"

namespace tvd::proxy {
namespace {

using proxy::testing::FakeMaster;
using proxy::testing::MakePolicy;
using proxy::testing::TempDir;
using proxy::testing::TestVm;
using proxy::testing::WriteFile;
using tvd::testing::CharonInstance;
using tvd::testing::GuestExec;
using tvd::testing::GuestImage;
using tvd::testing::LibvirtdInstance;
using tvd::testing::TestHost;
using tvd::testing::UniqueName;

constexpr char kBridge[] = "br-tvd";

struct Guest {
  TestVm vm;  // name, tvd, port, mac, network, config_path, known_good
  std::string ip;
  std::string socket;
};

// The domain XML of a guest; `measures` are <tvd:measure> lines.
std::string GuestXml(const Guest& g, const GuestImage& image,
                     const std::string& measures) {
  return "<domain type='qemu'>\n"
         "  <name>" +
         g.vm.name +
         "</name>\n"
         "  <memory unit='MiB'>128</memory>\n"
         "  <vcpu>1</vcpu>\n"
         "  <os>\n"
         "    <type arch='x86_64' machine='pc'>hvm</type>\n"
         "    <kernel>" +
         image.kernel() +
         "</kernel>\n"
         "    <initrd>" +
         image.initrd() +
         "</initrd>\n"
         "    <cmdline>console=ttyS0 tvd.ip=" +
         g.ip + "/24 tvd.name=" + g.vm.name +
         "</cmdline>\n"
         "  </os>\n"
         "  <on_poweroff>destroy</on_poweroff>\n"
         "  <on_crash>destroy</on_crash>\n"
         "  <devices>\n"
         "    <disk type='file' device='disk'><driver name='qemu' "
         "type='raw'/><source file='" +
         image.disk() +
         "'/>"
         "<target dev='vda' bus='virtio'/><readonly/></disk>\n"
         "    <interface type='ethernet'><mac address='" +
         g.vm.mac +
         "'/>"
         "<target dev='" +
         g.vm.port +
         "'/><model type='virtio'/>"
         "</interface>\n"
         "    <serial type='unix'><source mode='bind' path='" +
         g.socket +
         "'/><target port='0'/></serial>\n"
         "  </devices>\n"
         "  <metadata>\n"
         "    <tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='" +
         g.vm.tvd + "'>\n" + measures + "      <tvd:vnet target='" + g.vm.port +
         "' network='" + g.vm.network +
         "'/>\n"
         "    </tvd:tvd>\n"
         "  </metadata>\n"
         "</domain>\n";
}

// Writes the guest's final VM configuration (with the real digests of the
// image files and of the configuration) and fills its known-good values.
Guest MakeGuest(const std::string& dir, const GuestImage& image,
                const std::string& name, const std::string& tvd,
                const std::string& port, const std::string& mac,
                const std::string& ip) {
  Guest g;
  g.vm.name = name;
  g.vm.tvd = tvd;
  g.vm.network = tvd + "-data";
  g.vm.port = port;
  g.vm.mac = mac;
  g.vm.kernel = image.kernel();
  g.vm.initrd = image.initrd();
  g.vm.disk = image.disk();
  g.ip = ip;
  g.socket = dir + "/" + name + ".sock";
  auto hex = [](const std::string& p) { return ToHex(*Sha256File(p)); };
  std::string file_measures =
      "      <tvd:measure type='kernel' sha256='" + hex(image.kernel()) +
      "'/>\n      <tvd:measure type='initrd' sha256='" + hex(image.initrd()) +
      "'/>\n      <tvd:measure type='disk' target='vda' sha256='" +
      hex(image.disk()) + "'/>\n";
  auto parsed = policy::ParseVmConfig(GuestXml(g, image, file_measures), "test",
                                      policy::VmConfigMode::kFinal);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  std::string measures = "      <tvd:measure type='config' sha256='" +
                         ToHex(parsed->ConfigDigest()) + "'/>\n" +
                         file_measures;
  g.vm.config_path = dir + "/" + name + ".xml";
  WriteFile(g.vm.config_path, GuestXml(g, image, measures));
  auto final_vm =
      policy::LoadVmConfigFile(g.vm.config_path, policy::VmConfigMode::kFinal);
  EXPECT_TRUE(final_vm.ok()) << final_vm.status();
  g.vm.known_good.vm = name;
  if (final_vm.ok()) g.vm.known_good.measures = final_vm->tvd.measures;
  return g;
}

class GuestNetworkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto image = tvd::testing::BuildGuestImage();
    ASSERT_TRUE(image.ok()) << image.status();
    image_ = new GuestImage(*image);
    auto host = TestHost::Create(UniqueName("gh"), nullptr, "198.18.0.1");
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = host->release();
    auto charon = CharonInstance::Start(host_->ns());
    ASSERT_TRUE(charon.ok()) << charon.status();
    charon_ = charon->release();
    LibvirtdInstance::Options options;
    options.netns = host_->ns().name();
    options.qemu = true;
    auto libvirtd = LibvirtdInstance::Start(options);
    ASSERT_TRUE(libvirtd.ok()) << libvirtd.status();
    libvirtd_ = libvirtd->release();
  }
  static void TearDownTestSuite() {
    delete libvirtd_;
    delete charon_;
    delete host_;
    delete image_;
  }

  void SetUp() override {
    ASSERT_NE(libvirtd_, nullptr);
    auto hv = LibvirtHypervisor::Open(libvirtd_->ClientUri("qemu:///system"),
                                      libvirtd_->ClientUri("secret:///system"));
    ASSERT_TRUE(hv.ok()) << hv.status();
    hypervisor_ = std::move(hv).value();
    auto ovsdb = vswitch::OvsdbClient::Connect(
        {.socket_path = host_->ovs().db_socket()});
    ASSERT_TRUE(ovsdb.ok()) << ovsdb.status();
    ovsdb_ = std::move(ovsdb).value();
    db_ = std::make_unique<vswitch::OvsdbVswitchDatabase>(*ovsdb_);
    flows_ = vswitch::OpenFlowClient::Create(
        {.socket_path = host_->ovs().mgmt_socket(kBridge)});
    links_ = std::make_unique<vswitch::IpLinkManager>(host_->ns().name());
    auto tunnels = vici::ViciTunnelBackend::Connect(charon_->vici_socket());
    ASSERT_TRUE(tunnels.ok()) << tunnels.status();
    tunnels_ = std::move(tunnels).value();
    vswitch::HostNetwork::Config cfg;
    cfg.bridge = kBridge;
    cfg.local_host = "host-a";
    cfg.local_address = host_->address();
    host_network_ = std::make_unique<vswitch::HostNetwork>(
        cfg, *db_, *flows_, *links_, *tunnels_,
        [](const std::string&, const std::string&, const std::string&) {
          return false;
        });
    network_ = std::make_unique<HostTvdNetwork>(*host_network_);
  }

  void TearDown() override {
    for (auto* p : {&blue_proxy_, &red_proxy_}) {
      if (*p && (*p)->joined()) (void)(*p)->Leave();
    }
  }

  std::unique_ptr<TvdProxy> NewProxy(const std::string& tvd,
                                     FakeMaster& master) {
    return std::make_unique<TvdProxy>(
        ProxyConfig{.tvd = tvd,
                    .local_host = "host-a",
                    .local_address = host_->address()},
        master, *hypervisor_, *network_, cache_);
  }

  std::vector<std::string> Domains() {
    std::vector<std::string> out;
    auto list = hypervisor_->ListDomains();
    EXPECT_TRUE(list.ok()) << list.status();
    if (list.ok()) {
      for (const DomainSummary& d : *list) out.push_back(d.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  bool TapExists(const std::string& name) {
    ProcessOptions opts;
    opts.argv = {"ip", "-n", host_->ns().name(), "link", "show", "dev", name};
    auto r = RunCommand(opts);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->exit_status == 0;
  }
  std::string VmPorts() {
    auto out =
        host_->ovs().Vsctl({"--format=csv", "--no-headings", "--columns=name",
                            "find", "Port", "external_ids:tvd-kind=vm"});
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "error";
  }

  static GuestImage* image_;
  static TestHost* host_;
  static CharonInstance* charon_;
  static LibvirtdInstance* libvirtd_;

  TempDir dir_;
  std::unique_ptr<LibvirtHypervisor> hypervisor_;
  std::unique_ptr<vswitch::OvsdbClient> ovsdb_;
  std::unique_ptr<vswitch::OvsdbVswitchDatabase> db_;
  std::unique_ptr<vswitch::OpenFlowClient> flows_;
  std::unique_ptr<vswitch::IpLinkManager> links_;
  std::unique_ptr<vici::ViciTunnelBackend> tunnels_;
  std::unique_ptr<vswitch::HostNetwork> host_network_;
  std::unique_ptr<HostTvdNetwork> network_;
  MeasurementCache cache_;
  std::unique_ptr<TvdProxy> blue_proxy_;
  std::unique_ptr<TvdProxy> red_proxy_;
};

GuestImage* GuestNetworkTest::image_ = nullptr;
TestHost* GuestNetworkTest::host_ = nullptr;
CharonInstance* GuestNetworkTest::charon_ = nullptr;
LibvirtdInstance* GuestNetworkTest::libvirtd_ = nullptr;

TEST_F(GuestNetworkTest, GuestsReachTheirTvdOnlyAndLeaveNothingBehind) {
  // All three on one subnet: only the TVD separation keeps red out.
  Guest a = MakeGuest(dir_.path(), *image_, "blue-a", "blue", "bluea0",
                      "52:54:00:00:0b:0a", "198.18.9.10");
  Guest b = MakeGuest(dir_.path(), *image_, "blue-b", "blue", "blueb0",
                      "52:54:00:00:0b:0b", "198.18.9.11");
  Guest c = MakeGuest(dir_.path(), *image_, "red-c", "red", "redc0",
                      "52:54:00:00:0c:0c", "198.18.9.12");
  FakeMaster blue_master(MakePolicy("blue", 21, {a.vm, b.vm}));
  FakeMaster red_master(MakePolicy("red", 22, {c.vm}));
  blue_proxy_ = NewProxy("blue", blue_master);
  red_proxy_ = NewProxy("red", red_master);
  ASSERT_TRUE(blue_proxy_->Join().ok());
  ASSERT_TRUE(red_proxy_->Join().ok());

  auto attach_start = std::chrono::steady_clock::now();
  for (const Guest* g : {&a, &b}) {
    auto r = blue_proxy_->Attach(g->vm.config_path);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  {
    auto r = red_proxy_->Attach(c.vm.config_path);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_EQ(Domains(), (std::vector<std::string>{"blue-a", "blue-b", "red-c"}));
  for (const Guest* g : {&a, &b, &c}) {
    EXPECT_TRUE(TapExists(g->vm.port)) << g->vm.port;
    EXPECT_NE(VmPorts().find(g->vm.port), std::string::npos) << VmPorts();
  }
  auto attached = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - attach_start);
  for (const Guest* g : {&a, &b, &c}) {
    auto boot =
        tvd::testing::WaitForGuestShell(g->socket, std::chrono::seconds(60));
    ASSERT_TRUE(boot.ok()) << boot.status();
    auto since_attach = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - attach_start);
    log::Info("guest ", g->vm.name, ": shell prompt ", since_attach.count(),
              " ms after the first attach (3 attaches took ", attached.count(),
              " ms)");
  }

  auto step = [&, last = std::chrono::steady_clock::now()](
                  const std::string& what) mutable {
    auto now = std::chrono::steady_clock::now();
    log::Info("step took ",
              std::chrono::duration_cast<std::chrono::milliseconds>(now - last)
                  .count(),
              " ms: ", what);
    last = now;
  };
  // Inside blue-a: blue-b answers.
  auto same = GuestExec(a.socket, "ping -c 2 -w 10 " + b.ip);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->exit_status, 0) << same->out << same->err;
  EXPECT_NE(same->out.find("2 packets transmitted, 2 packets received"),
            std::string::npos)
      << same->out;
  step("ping blue-a -> blue-b");
  // red-c, on the same subnet but in TVD red, does not.
  auto other = GuestExec(a.socket, "ping -c 2 -W 1 " + c.ip);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->exit_status, 1) << other->out << other->err;
  EXPECT_NE(other->out.find("0 packets received"), std::string::npos)
      << other->out;
  step("ping blue-a -> red-c");
  // Nor does blue-a answer red-c.
  auto back = GuestExec(c.socket, "ping -c 1 -W 1 " + a.ip);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->exit_status, 1) << back->out << back->err;

  step("ping red-c -> blue-a");
  // Detach removes the domain, its tap and its OVS port.
  ASSERT_TRUE(blue_proxy_->Detach(b.vm.name).ok());
  step("detach blue-b");
  EXPECT_EQ(Domains(), (std::vector<std::string>{"blue-a", "red-c"}));
  EXPECT_FALSE(TapExists(b.vm.port));
  EXPECT_EQ(VmPorts().find(b.vm.port), std::string::npos) << VmPorts();
  // blue-a no longer reaches it.
  auto gone = GuestExec(a.socket, "ping -c 1 -W 1 " + b.ip);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->exit_status, 1) << gone->out;

  step("ping blue-a -> detached blue-b");
  // Leaving removes the rest.
  ASSERT_TRUE(blue_proxy_->Leave().ok());
  step("blue leaves");
  EXPECT_EQ(Domains(), std::vector<std::string>{"red-c"});
  ASSERT_TRUE(red_proxy_->Leave().ok());
  EXPECT_TRUE(Domains().empty());
  for (const Guest* g : {&a, &b, &c}) {
    EXPECT_FALSE(TapExists(g->vm.port)) << g->vm.port;
  }
  EXPECT_EQ(VmPorts(), "");
}

}  // namespace
}  // namespace tvd::proxy
