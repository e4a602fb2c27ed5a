#include "guest_host.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "tvd/clock.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/process.h"
#include "tvd/sha256.h"

namespace tvd::proxy::testing {

using tvd::testing::CharonInstance;
using tvd::testing::GuestImage;
using tvd::testing::LibvirtdInstance;
using tvd::testing::TestHost;
using tvd::testing::UniqueName;

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
         "<target dev='vda' bus='virtio'/><readonly/></disk>\n" +
         (g.encrypted_disk.empty()
              ? std::string()
              : "    <disk type='file' device='disk'><driver name='qemu' "
                "type='qcow2'/><source file='" +
                    g.encrypted_disk +
                    "'/><target dev='vdb' bus='virtio'/></disk>\n") +
         "    <interface type='ethernet'><mac address='" + g.vm.mac +
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
         g.vm.tvd + "'>\n" + measures +
         (g.encrypted_disk.empty()
              ? std::string()
              : "      <tvd:encryption type='disk' target='vdb'" +
                    (g.create_mib == 0
                         ? std::string()
                         : " create-mib='" + std::to_string(g.create_mib) +
                               "'") +
                    "/>\n") +
         (g.vtpm ? "      <tvd:vtpm/>\n" : "") + "      <tvd:vnet target='" +
         g.vm.port + "' network='" + g.vm.network +
         "'/>\n"
         "    </tvd:tvd>\n"
         "  </metadata>\n"
         "</domain>\n";
}

Guest MakeGuest(const std::string& dir, const GuestImage& image,
                const std::string& name, const std::string& tvd,
                const std::string& port, const std::string& mac,
                const std::string& ip, const std::string& encrypted_disk,
                std::uint64_t create_mib, bool vtpm) {
  Guest g;
  g.vtpm = vtpm;
  g.vm.vtpm = vtpm;
  g.encrypted_disk = encrypted_disk;
  g.create_mib = create_mib;
  g.vm.encrypted = !encrypted_disk.empty();
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

void GuestHostTest::SetUpTestSuite() {
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
void GuestHostTest::TearDownTestSuite() {
  delete libvirtd_;
  delete charon_;
  delete host_;
  delete image_;
}

void GuestHostTest::SetUp() {
  ASSERT_NE(libvirtd_, nullptr);
  // QEMU (libvirt-qemu) must reach the guests' disks in the test directory;
  // it may traverse it, not list or write it. Files meant for root alone
  // (passphrases) stay 0600.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0) << dir_.path();
  auto hv = LibvirtHypervisor::Open(libvirtd_->ClientUri("qemu:///system"),
                                    libvirtd_->ClientUri("secret:///system"));
  ASSERT_TRUE(hv.ok()) << hv.status();
  // libvirtd's /var/lib/libvirt is the instance's lib/ (libvirtd.h).
  (*hv)->set_channel_dir(libvirtd_->dir() + "/lib/qemu/channel/target");
  hypervisor_ = std::move(hv).value();
  auto network = tvd::testing::OpenProxyHostNetwork(*host_, *charon_,
                                                    kGuestBridge, "host-a");
  ASSERT_TRUE(network.ok()) << network.status();
  network_ = std::move(network).value();
}

void GuestHostTest::TearDown() {
  for (auto* p : {&blue_proxy_, &red_proxy_}) {
    if (*p && (*p)->joined()) (void)(*p)->Leave();
  }
}

std::string GuestHostTest::VtpmStorageDir() {
  return libvirtd_->dir() + "/lib/swtpm";
}

std::unique_ptr<TvdProxy> GuestHostTest::NewProxy(const std::string& tvd,
                                                  FakeMaster& master,
                                                  VtpmStates* vtpms) {
  auto& store = stores_[tvd];
  if (!store) {
    store = std::make_unique<FileAdmissionStore>(dir_.path() + "/state", tvd,
                                                 ::geteuid());
  }
  return std::make_unique<TvdProxy>(
      ProxyConfig{.tvd = tvd,
                  .local_host = "host-a",
                  .local_address = host_->address()},
      master, *hypervisor_, network_->network(), cache_, *store,
      std::make_shared<SteadyClock>(), vtpms);
}

std::vector<std::string> GuestHostTest::Domains() {
  std::vector<std::string> out;
  auto list = hypervisor_->ListDomains();
  EXPECT_TRUE(list.ok()) << list.status();
  if (list.ok()) {
    for (const DomainSummary& d : *list) out.push_back(d.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}
bool GuestHostTest::TapExists(const std::string& name) {
  ProcessOptions opts;
  opts.argv = {"ip", "-n", host_->ns().name(), "link", "show", "dev", name};
  auto r = RunCommand(opts);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() && r->exit_status == 0;
}
std::string GuestHostTest::VmPorts() {
  auto out =
      host_->ovs().Vsctl({"--format=csv", "--no-headings", "--columns=name",
                          "find", "Port", "external_ids:tvd-kind=vm"});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "error";
}

GuestImage* GuestHostTest::image_ = nullptr;
TestHost* GuestHostTest::host_ = nullptr;
CharonInstance* GuestHostTest::charon_ = nullptr;
LibvirtdInstance* GuestHostTest::libvirtd_ = nullptr;

}  // namespace tvd::proxy::testing
