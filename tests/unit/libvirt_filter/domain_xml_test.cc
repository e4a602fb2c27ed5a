// Owner extraction and the allowlist of tenant domain XML.
//
// The fixtures in data/ are what real tools send: virt-install --print-xml
// and the XML virt-manager's "New VM" wizard defines (the same virtinst
// library with the wizard's defaults). data/make_fixtures.sh made them with
// the virt-install of Debian 12 against this host's QEMU capabilities; each
// file holds the install-time and the final definition virt-install sends.
#include "tvd/libvirt_filter/domain_xml.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tvd::libvirt_filter {
namespace {

TenantScope Blue(GraphicsPolicy graphics = GraphicsPolicy::kNone) {
  TenantScope s{"blue", "/var/lib/tvd/blue", {"blue-data", "blue-mgmt"}};
  s.graphics = graphics;
  return s;
}

constexpr char kQcow2Disk[] =
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/tvd/blue/a.qcow2'/><target dev='vda' "
    "bus='virtio'/></disk>";

std::string Domain(const std::string& devices, const std::string& metadata = "",
                   const std::string& root_attrs = "",
                   const std::string& top = "") {
  return "<domain type='kvm'" + root_attrs +
         "><name>vm1</name><uuid>12345678-1234-4234-8234-123456789abc</uuid>"
         "<memory unit='KiB'>1048576</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='q35'>hvm</type></os>" +
         top + "<devices>" + devices + "</devices>" + metadata + "</domain>";
}

Status Confine(const std::string& xml, const TenantScope& scope = Blue()) {
  return ConfineDomainXml(xml, scope).status();
}

Status Denied(const std::string& message) { return PermissionDenied(message); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The <domain> documents of a virt-install --print-xml output.
std::vector<std::string> Documents(const std::string& file) {
  std::string text = ReadFile(std::string(TVD_SOURCE_DIR) +
                              "/tests/unit/libvirt_filter/data/" + file);
  std::vector<std::string> out;
  for (std::size_t at = text.find("<domain"); at != std::string::npos;) {
    std::size_t end = text.find("</domain>", at);
    if (end == std::string::npos) break;
    end += std::strlen("</domain>");
    out.push_back(text.substr(at, end - at));
    at = text.find("<domain", end);
  }
  return out;
}

TEST(OwnerFromDomainXmlTest, ReadsTheTvdElementWhateverItsPrefix) {
  StatusOr<std::string> o = OwnerFromDomainXml(Domain(
      "", "<metadata><x:tvd xmlns:x='urn:tvd:vm:1' owner='red'/></metadata>"));
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(*o, "red");
}

TEST(OwnerFromDomainXmlTest, OtherNamespacesDoNotCount) {
  StatusOr<std::string> o = OwnerFromDomainXml(Domain(
      "", "<metadata><tvd:tvd xmlns:tvd='urn:other' owner='red'/></metadata>"));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o, "");
}

TEST(OwnerFromDomainXmlTest, NoMetadataMeansNoOwner) {
  StatusOr<std::string> o = OwnerFromDomainXml(Domain(""));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o, "");
}

TEST(OwnerFromDomainXmlTest, TwoTvdElementsAreAnError) {
  EXPECT_EQ(
      OwnerFromDomainXml(Domain("",
                                "<metadata><a:tvd xmlns:a='urn:tvd:vm:1' "
                                "owner='red'/><b:tvd xmlns:b='urn:tvd:vm:1' "
                                "owner='blue'/></metadata>"))
          .status(),
      InvalidArgument("domain XML has more than one TVD element"));
}

// --- What real tenants send ---

TEST(ConfineDomainXmlTest, VirtInstallWithoutGraphicsPasses) {
  std::vector<std::string> docs = Documents("virt_install_console.xml");
  ASSERT_EQ(docs.size(), 2u);
  for (const std::string& xml : docs) {
    StatusOr<ConfinedDomain> c = ConfineDomainXml(xml, Blue());
    ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << xml;
    EXPECT_EQ(c->name, "blue-web");
    EXPECT_EQ(*OwnerFromDomainXml(c->xml), "blue");
  }
}

TEST(ConfineDomainXmlTest, VirtInstallWithVncOnLoopbackPasses) {
  std::vector<std::string> docs = Documents("virt_install_vnc.xml");
  ASSERT_EQ(docs.size(), 2u);
  for (const std::string& xml : docs) {
    StatusOr<ConfinedDomain> c =
        ConfineDomainXml(xml, Blue(GraphicsPolicy::kVnc));
    ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << xml;
    EXPECT_EQ(c->name, "blue-db");
  }
  // The same on a host that allows no console.
  EXPECT_EQ(Confine(docs[0]),
            Denied("/domain/devices/graphics: not allowed through the TVD "
                   "relay"));
}

TEST(ConfineDomainXmlTest, VirtManagerNewVmPasses) {
  std::vector<std::string> docs = Documents("virt_manager_new_vm.xml");
  ASSERT_EQ(docs.size(), 2u);
  for (const std::string& xml : docs) {
    StatusOr<ConfinedDomain> c =
        ConfineDomainXml(xml, Blue(GraphicsPolicy::kSpice));
    ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << xml;
    EXPECT_EQ(c->name, "blue-desktop");
    // libosinfo's metadata is kept, the TVD element added.
    EXPECT_NE(c->xml.find("libosinfo:os id=\"http://debian.org/debian/11\""),
              std::string::npos);
    EXPECT_EQ(*OwnerFromDomainXml(c->xml), "blue");
  }
  // SPICE's agent channel (before the graphics element) needs SPICE.
  EXPECT_EQ(Confine(docs[0], Blue(GraphicsPolicy::kVnc)),
            Denied("/domain/devices/channel/@type: 'spicevmc' needs SPICE "
                   "graphics, which this host does not allow"));
}

// --- What the relay writes ---

TEST(ConfineDomainXmlTest, TheRelayWritesItsOwnTvdElement) {
  StatusOr<ConfinedDomain> c = ConfineDomainXml(
      Domain(kQcow2Disk,
             "<metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='red'>"
             "<tvd:measure type='kernel'/><tvd:vnet target='eth0' "
             "network='blue-data'/></tvd:tvd></metadata>"),
      Blue());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "vm1");
  EXPECT_EQ(UuidToString(*c->uuid), "12345678-1234-4234-8234-123456789abc");
  EXPECT_EQ(*OwnerFromDomainXml(c->xml), "blue");
  // Nothing of the tenant's TVD element survives.
  EXPECT_EQ(c->xml.find("measure"), std::string::npos) << c->xml;
  EXPECT_EQ(c->xml.find("vnet"), std::string::npos) << c->xml;
  EXPECT_NE(c->xml.find("<tvd:tvd xmlns:tvd=\"urn:tvd:vm:1\" owner=\"blue\"/>"),
            std::string::npos)
      << c->xml;
  EXPECT_NE(c->xml.find("/var/lib/tvd/blue/a.qcow2"), std::string::npos);
}

TEST(ConfineDomainXmlTest, AddsMetadataAndEmulatorWhenAbsent) {
  StatusOr<ConfinedDomain> c = ConfineDomainXml(Domain(""), Blue());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*OwnerFromDomainXml(c->xml), "blue");
  EXPECT_NE(c->xml.find("<emulator>/usr/bin/qemu-system-x86_64</emulator>"),
            std::string::npos)
      << c->xml;
}

TEST(ConfineDomainXmlTest, EmulatorIsTheHostsOnly) {
  EXPECT_TRUE(
      ConfineDomainXml(
          Domain("<emulator>/usr/bin/qemu-system-x86_64</emulator>"), Blue())
          .ok());
  EXPECT_EQ(Confine(Domain("<emulator>/bin/sh</emulator>")),
            Denied("/domain/devices/emulator: '/bin/sh' is not this host's "
                   "emulator /usr/bin/qemu-system-x86_64"));
  TenantScope no_emulator = Blue();
  no_emulator.emulator = "";
  EXPECT_EQ(Confine(Domain("<emulator>/usr/bin/qemu-system-x86_64</emulator>"),
                    no_emulator),
            Denied("/domain/devices/emulator: '/usr/bin/qemu-system-x86_64' "
                   "is not allowed: this host chooses the emulator"));
  StatusOr<ConfinedDomain> c = ConfineDomainXml(Domain(""), no_emulator);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->xml.find("emulator"), std::string::npos) << c->xml;
}

TEST(ConfineDomainXmlTest, CdromsArePinnedToReadOnlyRaw) {
  StatusOr<ConfinedDomain> c = ConfineDomainXml(
      Domain("<disk type='file' device='cdrom'><source "
             "file='/var/lib/tvd/blue/d.iso'/><target dev='sda' "
             "bus='sata'/></disk>"),
      Blue());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(c->xml.find("<driver name=\"qemu\" type=\"raw\"/>"),
            std::string::npos)
      << c->xml;
  EXPECT_NE(c->xml.find("<readonly/>"), std::string::npos) << c->xml;
  EXPECT_EQ(Confine(Domain("<disk type='file' device='cdrom'><driver "
                           "name='qemu' type='qcow2'/></disk>")),
            Denied("/domain/devices/disk/driver/@type: 'qcow2' is not raw, "
                   "the one format of TVD CD-ROMs"));
}

TEST(ConfineDomainXmlTest, GraphicsWithoutAddressGetsLoopback) {
  StatusOr<ConfinedDomain> c = ConfineDomainXml(
      Domain("<graphics type='vnc' port='-1'/>"), Blue(GraphicsPolicy::kVnc));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(c->xml.find("<graphics type=\"vnc\" port=\"-1\" "
                        "listen=\"127.0.0.1\"/>"),
            std::string::npos)
      << c->xml;
}

// --- Attacks, one class each ---

TEST(ConfineDomainXmlTest, HostFileSerialIsRefused) {
  EXPECT_EQ(Confine(Domain("<serial type='file'><source path='/root/x'/>"
                           "<target port='0'/></serial>")),
            Denied("/domain/devices/serial/@type: 'file' is not one of pty"));
  EXPECT_EQ(Confine(Domain("<serial type='pty'><source path='/root/x'/>"
                           "</serial>")),
            Denied("/domain/devices/serial/source: not allowed through the "
                   "TVD relay"));
  EXPECT_EQ(Confine(Domain("<console type='unix'><source mode='bind' "
                           "path='/run/x.sock'/></console>")),
            Denied("/domain/devices/console/@type: 'unix' is not one of pty"));
  EXPECT_EQ(Confine(Domain("<parallel type='file'/>")),
            Denied("/domain/devices/parallel: not allowed through the TVD "
                   "relay"));
}

TEST(ConfineDomainXmlTest, SecondDevicesSectionIsRefused) {
  EXPECT_TRUE(ConfineDomainXml(Domain(""), Blue()).ok());
  std::string xml = Domain("");
  xml.insert(xml.find("</domain>"),
             "<devices><hostdev mode='subsystem' type='pci'/></devices>");
  EXPECT_EQ(Confine(xml),
            Denied("/domain/devices: more than one, libvirt reads only one"));
}

TEST(ConfineDomainXmlTest, DuplicatedSingletonsAreRefused) {
  EXPECT_EQ(Confine(Domain("", "", "", "<name>other</name>")),
            Denied("/domain/name: more than one, libvirt reads only one"));
  EXPECT_EQ(Confine(Domain("", "", "", "<memory>1</memory>")),
            Denied("/domain/memory: more than one, libvirt reads only one"));
  EXPECT_EQ(Confine(Domain(std::string("<disk type='file' device='disk'>"
                                       "<driver name='qemu' type='qcow2'/>"
                                       "<source file='/var/lib/tvd/blue/a'/>"
                                       "<source file='/etc/shadow'/>"
                                       "</disk>"))),
            Denied("/domain/devices/disk/source: more than one, libvirt "
                   "reads only one"));
  std::string many;
  for (int i = 0; i < 33; ++i) many += kQcow2Disk;
  EXPECT_EQ(Confine(Domain(many)),
            Denied("/domain/devices/disk: more than 32, the limit through "
                   "the TVD relay"));
}

TEST(ConfineDomainXmlTest, SecurityLabelsAreRefused) {
  EXPECT_EQ(Confine(Domain("", "", "", "<seclabel type='none' model='dac'/>")),
            Denied("/domain/seclabel: not allowed through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='qcow2'/><source "
                           "file='/var/lib/tvd/blue/a'><seclabel "
                           "model='dac' relabel='no'/></source></disk>")),
            Denied("/domain/devices/disk/source/seclabel: not allowed "
                   "through the TVD relay"));
}

TEST(ConfineDomainXmlTest, HostMemoryAndPlacementAreRefused) {
  EXPECT_EQ(Confine(Domain("", "", "",
                           "<memoryBacking><source type='file'/><access "
                           "mode='shared'/></memoryBacking>")),
            Denied("/domain/memoryBacking: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("<shmem name='x'/>")),
            Denied("/domain/devices/shmem: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("<memory model='nvdimm'/>")),
            Denied("/domain/devices/memory: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("", "", "", "<cputune/>")),
            Denied("/domain/cputune: not allowed through the TVD relay"));
  EXPECT_EQ(Confine(Domain("", "", "", "<sysinfo type='smbios'/>")),
            Denied("/domain/sysinfo: not allowed through the TVD relay"));
  EXPECT_EQ(Confine(Domain("", "", "", "<cpu><numa/></cpu>")),
            Denied("/domain/cpu/numa: not allowed through the TVD relay"));
  std::string vcpu = Domain("");
  vcpu.replace(vcpu.find("<vcpu>"), 6, "<vcpu cpuset='0-3'>");
  EXPECT_EQ(Confine(vcpu),
            Denied("/domain/vcpu/@cpuset: not allowed through the TVD relay"));
}

// Issue 16: a TVD VM's vTPM comes only from the proxy (<tvd:vtpm/>, state
// made and key released by the master). Every <tpm> a tenant sends is
// refused, the proxy's own shape included: with it, a tenant could point
// its domain at another VM's vTPM secret (and so at that VM's state).
TEST(ConfineDomainXmlTest, NoTpmOfAnyShapeComesThroughTheRelay) {
  const Status denied =
      Denied("/domain/devices/tpm: not allowed through the TVD relay");
  for (const char* tpm : {
           // The proxy's shape, naming some VM's vTPM secret.
           "<tpm model='tpm-crb'><backend type='emulator' version='2.0'>"
           "<encryption secret='6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60'/>"
           "</backend></tpm>",
           // Without a secret (libvirt would make a plaintext state).
           "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/>"
           "</tpm>",
           // The host's TPM passed through.
           "<tpm model='tpm-tis'><backend type='passthrough'><device "
           "path='/dev/tpm0'/></backend></tpm>",
           // State kept past undefine, at a path of the tenant's choosing.
           "<tpm model='tpm-crb'><backend type='emulator' version='2.0' "
           "persistent_state='yes'><source type='dir' "
           "path='/var/lib/libvirt/swtpm/other'/></backend></tpm>",
           "<tpm model='tpm-spapr'><backend type='external'><source "
           "type='unix' mode='connect' path='/run/swtpm.sock'/></backend>"
           "</tpm>",
       }) {
    EXPECT_EQ(Confine(Domain(tpm)), denied) << tpm;
  }
}

TEST(ConfineDomainXmlTest, HostDevicesAndInputsAreRefused) {
  EXPECT_EQ(Confine(Domain("<hostdev mode='subsystem'/>")),
            Denied("/domain/devices/hostdev: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("<filesystem type='mount'/>")),
            Denied("/domain/devices/filesystem: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("<tpm model='tpm-tis'/>")),
            Denied("/domain/devices/tpm: not allowed through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<input type='evdev'><source "
                           "dev='/dev/input/event0'/></input>")),
            Denied("/domain/devices/input/@type: 'evdev' is not one of "
                   "tablet, mouse, keyboard"));
  EXPECT_EQ(Confine(Domain("<input type='keyboard' bus='virtio'><source "
                           "evdev='/dev/input/event0'/></input>")),
            Denied("/domain/devices/input/source: not allowed through the "
                   "TVD relay"));
}

TEST(ConfineDomainXmlTest, HostPathsOutsideTheStorageAreRefused) {
  EXPECT_EQ(
      Confine(Domain("", "", "", "<os><kernel>/boot/vmlinuz</kernel></os>")),
      Denied("/domain/os: more than one, libvirt reads only one"));
  std::string kernel = Domain("");
  kernel.replace(kernel.find("</os>"), 5,
                 "<kernel>/boot/vmlinuz</kernel></os>");
  EXPECT_EQ(Confine(kernel),
            Denied("/domain/os/kernel: '/boot/vmlinuz' is outside the TVD "
                   "storage /var/lib/tvd/blue"));
  std::string nvram = Domain("");
  nvram.replace(nvram.find("</os>"), 5,
                "<nvram>/var/lib/libvirt/qemu/nvram/x_VARS.fd</nvram></os>");
  EXPECT_EQ(Confine(nvram),
            Denied("/domain/os/nvram: '/var/lib/libvirt/qemu/nvram/x_VARS.fd' "
                   "is outside the TVD storage /var/lib/tvd/blue"));
  // A comment cannot split a path into a checked and an unchecked part:
  // libvirt joins the text around it.
  std::string split = Domain("");
  split.replace(split.find("</os>"), 5,
                "<initrd>/var/lib/tvd/blue/i<!-- x -->/../../../../etc/shadow"
                "</initrd></os>");
  EXPECT_EQ(Confine(split),
            Denied("/domain/os/initrd: "
                   "'/var/lib/tvd/blue/i/../../../../etc/shadow' is outside "
                   "the TVD storage /var/lib/tvd/blue"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='qcow2'/><source "
                           "file='/var/lib/tvd/blue/../red/x.img'/></disk>")),
            Denied("/domain/devices/disk/source/@file: "
                   "'/var/lib/tvd/blue/../red/x.img' is outside the TVD "
                   "storage /var/lib/tvd/blue"));
  EXPECT_EQ(Confine(Domain("<disk type='block'><source dev='/dev/sda'/>"
                           "</disk>")),
            Denied("/domain/devices/disk/@type: 'block' is not one of file"));
  EXPECT_EQ(Confine(Domain("<disk type='file'><driver name='qemu' "
                           "type='qcow2'/><source file='/var/lib/tvd/blue/a' "
                           "dev='/dev/sda'/></disk>")),
            Denied("/domain/devices/disk/source/@dev: not allowed through the "
                   "TVD relay"));
  EXPECT_EQ(Confine(Domain("<rng model='virtio'><backend model='random'>"
                           "/dev/hwrng</backend></rng>")),
            Denied("/domain/devices/rng/backend: '/dev/hwrng' is not "
                   "/dev/urandom"));
  EXPECT_EQ(Confine(Domain("<watchdog model='i6300esb' action='dump'/>")),
            Denied("/domain/devices/watchdog/@action: 'dump' is not one of "
                   "reset, shutdown, poweroff, pause, none, inject-nmi"));
  EXPECT_EQ(
      Confine(Domain("", "", "", "<on_crash>coredump-destroy</on_crash>")),
      Denied("/domain/on_crash: 'coredump-destroy' is not one of "
             "destroy, restart, preserve, rename-restart"));
}

TEST(ConfineDomainXmlTest, FirmwareIsTheHostsOrTheTenantsOwnFile) {
  // libvirt picks the host's own EFI firmware: no path from the tenant.
  std::string efi = Domain("");
  efi.replace(efi.find("<os>"), 4, "<os firmware='efi'>");
  EXPECT_TRUE(ConfineDomainXml(efi, Blue()).ok());
  std::string loader = Domain("");
  loader.replace(loader.find("</os>"), 5,
                 "<loader readonly='yes' type='pflash'>/usr/share/OVMF/"
                 "OVMF_CODE.fd</loader></os>");
  EXPECT_EQ(Confine(loader),
            Denied("/domain/os/loader: '/usr/share/OVMF/OVMF_CODE.fd' is "
                   "outside the TVD storage /var/lib/tvd/blue"));
  std::string own = Domain("");
  own.replace(own.find("</os>"), 5,
              "<loader readonly='yes' type='pflash'>/var/lib/tvd/blue/"
              "code.fd</loader><nvram>/var/lib/tvd/blue/vars.fd</nvram></os>");
  EXPECT_TRUE(ConfineDomainXml(own, Blue()).ok());
  std::string smbios = Domain("");
  smbios.replace(smbios.find("</os>"), 5, "<smbios mode='host'/></os>");
  EXPECT_EQ(Confine(smbios),
            Denied("/domain/os/smbios/@mode: 'host' is not one of emulate"));
}

TEST(ConfineDomainXmlTest, DiskFormatIsPinned) {
  EXPECT_TRUE(ConfineDomainXml(Domain(kQcow2Disk), Blue()).ok());
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='raw'/><source "
                           "file='/var/lib/tvd/blue/a'/></disk>")),
            Denied("/domain/devices/disk/driver/@type: 'raw' is not qcow2, "
                   "the one format of TVD disks"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><source "
                           "file='/var/lib/tvd/blue/a'/></disk>")),
            Denied("/domain/devices/disk/driver/@type: '' is not qcow2, the "
                   "one format of TVD disks"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='qcow2'/><source "
                           "file='/var/lib/tvd/blue/a'/><backingStore "
                           "type='file'><format type='raw'/><source "
                           "file='/etc/shadow'/></backingStore></disk>")),
            Denied("/domain/devices/disk/backingStore/@type: not allowed "
                   "through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='qcow2'/><source "
                           "file='/var/lib/tvd/blue/a'/><shareable/></disk>")),
            Denied("/domain/devices/disk/shareable: not allowed through the "
                   "TVD relay"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='qcow2'/><source "
                           "file='/var/lib/tvd/blue/a'><encryption "
                           "format='luks'/></source></disk>")),
            Denied("/domain/devices/disk/source/encryption: not allowed "
                   "through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='floppy'/>")),
            Denied("/domain/devices/disk/@device: 'floppy' is not one of "
                   "disk, cdrom"));
  EXPECT_EQ(Confine(Domain("<disk type='file' device='disk'><driver "
                           "name='qemu' type='qcow2'/><alias "
                           "name='virtio-disk0'/></disk>")),
            Denied("/domain/devices/disk/alias/@name: 'virtio-disk0' is not "
                   "a user alias (ua- and letters, digits, _ or -)"));
}

TEST(ConfineDomainXmlTest, NicsCannotChooseTheirHostSide) {
  EXPECT_TRUE(ConfineDomainXml(Domain("<interface type='network'><source "
                                      "network='blue-data'/><model "
                                      "type='virtio'/></interface>"),
                               Blue())
                  .ok());
  EXPECT_TRUE(ConfineDomainXml(Domain("<interface type='ethernet'><mac "
                                      "address='52:54:00:00:00:01'/><model "
                                      "type='virtio'/></interface>"),
                               Blue())
                  .ok());
  EXPECT_EQ(Confine(Domain("<interface type='network'><source "
                           "network='default'/></interface>")),
            Denied("/domain/devices/interface/source/@network: 'default' is "
                   "not a network of TVD blue"));
  EXPECT_EQ(Confine(Domain("<interface type='network'/>")),
            Denied("/domain/devices/interface/source/@network: '' is not a "
                   "network of TVD blue"));
  EXPECT_EQ(Confine(Domain("<interface type='network'><source "
                           "network='blue-data' portgroup='x'/></interface>")),
            Denied("/domain/devices/interface/source/@portgroup: not allowed "
                   "through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<interface type='bridge'><source "
                           "bridge='virbr0'/></interface>")),
            Denied("/domain/devices/interface/@type: 'bridge' is not one of "
                   "network, ethernet"));
  for (const char* type : {"direct", "user", "hostdev", "vhostuser", "udp"}) {
    EXPECT_EQ(Confine(Domain(std::string("<interface type='") + type + "'/>")),
              Denied(std::string("/domain/devices/interface/@type: '") + type +
                     "' is not one of network, ethernet"));
  }
  EXPECT_EQ(Confine(Domain("<interface type='network'><source "
                           "network='blue-data'/><virtualport "
                           "type='openvswitch'/></interface>")),
            Denied("/domain/devices/interface/virtualport: not allowed "
                   "through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<interface type='network'><source "
                           "network='blue-data'/><vlan><tag id='42'/></vlan>"
                           "</interface>")),
            Denied("/domain/devices/interface/vlan: not allowed through the "
                   "TVD relay"));
  EXPECT_EQ(Confine(Domain("<interface type='ethernet'><target dev='eth0' "
                           "managed='no'/></interface>")),
            Denied("/domain/devices/interface/target: not allowed through the "
                   "TVD relay"));
  EXPECT_EQ(Confine(Domain("<interface type='ethernet'><source "
                           "network='blue-data'/></interface>")),
            Denied("/domain/devices/interface/source: not allowed through the "
                   "TVD relay"));
  for (const char* child : {"script", "downscript", "ip", "route", "rom",
                            "bandwidth", "filterref", "backend", "tune"}) {
    EXPECT_EQ(Confine(Domain(std::string("<interface type='ethernet'><") +
                             child + "/></interface>")),
              Denied(std::string("/domain/devices/interface/") + child +
                     ": not allowed through the TVD relay"));
  }
}

TEST(ConfineDomainXmlTest, GraphicsOnlyAsTheHostAllows) {
  const TenantScope vnc = Blue(GraphicsPolicy::kVnc);
  EXPECT_EQ(Confine(Domain("<graphics type='vnc'/>")),
            Denied("/domain/devices/graphics: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("<graphics type='spice'/>"), vnc),
            Denied("/domain/devices/graphics/@type: 'spice' is not the "
                   "console this host allows (vnc)"));
  EXPECT_EQ(Confine(Domain("<graphics type='vnc' listen='0.0.0.0'/>"), vnc),
            Denied("/domain/devices/graphics/@listen: '0.0.0.0' is not a "
                   "loopback address"));
  EXPECT_EQ(Confine(Domain("<graphics type='vnc' port='5900'/>"), vnc),
            Denied("/domain/devices/graphics/@port: '5900' is not one of -1"));
  EXPECT_EQ(Confine(Domain("<graphics type='vnc'><listen type='socket' "
                           "socket='/run/x.sock'/></graphics>"),
                    vnc),
            Denied("/domain/devices/graphics/listen/@type: 'socket' is not "
                   "one of address, none"));
  EXPECT_EQ(Confine(Domain("<graphics type='vnc'><listen type='network' "
                           "network='default'/></graphics>"),
                    vnc),
            Denied("/domain/devices/graphics/listen/@type: 'network' is not "
                   "one of address, none"));
  EXPECT_EQ(Confine(Domain("<graphics type='vnc'><listen type='address'/>"
                           "</graphics>"),
                    vnc),
            Denied("/domain/devices/graphics/listen/@address: '' is not a "
                   "loopback address"));
  EXPECT_TRUE(ConfineDomainXml(Domain("<graphics type='vnc' port='-1' "
                                      "autoport='yes'><listen type='address' "
                                      "address='127.0.0.1'/></graphics>"),
                               vnc)
                  .ok());
  EXPECT_EQ(Confine(Domain("<redirdev bus='usb' type='spicevmc'/>"), vnc),
            Denied("/domain/devices/redirdev/@type: 'spicevmc' needs SPICE "
                   "graphics, which this host does not allow"));
  EXPECT_EQ(Confine(Domain("<redirdev bus='usb' type='tcp'/>"),
                    Blue(GraphicsPolicy::kSpice)),
            Denied("/domain/devices/redirdev/@type: 'tcp' is not one of "
                   "spicevmc"));
}

TEST(ConfineDomainXmlTest, ChannelsAreTheGuestAgentsWithoutPath) {
  EXPECT_TRUE(ConfineDomainXml(Domain("<channel type='unix'><source "
                                      "mode='bind'/><target type='virtio' "
                                      "name='org.qemu.guest_agent.0'/>"
                                      "</channel>"),
                               Blue())
                  .ok());
  EXPECT_EQ(Confine(Domain("<channel type='unix'><source mode='bind' "
                           "path='/root/agent.sock'/><target type='virtio' "
                           "name='org.qemu.guest_agent.0'/></channel>")),
            Denied("/domain/devices/channel/source/@path: not allowed "
                   "through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<channel type='unix'><target type='virtio' "
                           "name='org.example.x'/></channel>")),
            Denied("/domain/devices/channel/target/@name: 'org.example.x' is "
                   "not org.qemu.guest_agent.0, the one unix channel through "
                   "the TVD relay"));
  EXPECT_EQ(Confine(Domain("<channel type='unix'><target type='virtio' "
                           "name='com.redhat.spice.0'/></channel>")),
            Denied("/domain/devices/channel/target/@name: "
                   "'com.redhat.spice.0' is not org.qemu.guest_agent.0, the "
                   "one unix channel through the TVD relay"));
  EXPECT_EQ(Confine(Domain("<channel type='file'/>")),
            Denied("/domain/devices/channel/@type: 'file' is not one of "
                   "unix, spicevmc"));
}

TEST(ConfineDomainXmlTest, NamespacesOnlyInsideMetadata) {
  EXPECT_EQ(
      Confine(Domain("", "",
                     " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'",
                     "<qemu:commandline><qemu:arg value='-x'/>"
                     "</qemu:commandline>")),
      Denied("/domain/@xmlns:qemu: not allowed through the TVD relay"));
  // Undeclared prefix: still refused.
  EXPECT_EQ(Confine(Domain("", "", "", "<qemu:commandline/>")),
            Denied("/domain/qemu:commandline: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("<disk xmlns:x='urn:x' type='file'/>")),
            Denied("/domain/devices/disk/@xmlns:x: not allowed through the "
                   "TVD relay"));
  // Metadata: only namespaced children, never hiding a TVD element.
  EXPECT_EQ(Confine(Domain("", "<metadata><owner>red</owner></metadata>")),
            Denied("/domain/metadata/owner: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("",
                           "<metadata><x:a xmlns:x='urn:x'><t:tvd "
                           "xmlns:t='urn:tvd:vm:1' owner='red'/></x:a>"
                           "</metadata>")),
            Denied("/domain/metadata/x:a/t:tvd/@xmlns:t: 'urn:tvd:vm:1' is "
                   "the TVD namespace, which only the relay writes"));
  EXPECT_EQ(Confine(Domain("", "<metadata xmlns:t='urn:tvd:vm:1'/>")),
            Denied("/domain/metadata/@xmlns:t: not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("", "<metadata/><metadata/>")),
            Denied("/domain/metadata: more than one, libvirt reads only one"));
  std::string big(20000, 'x');
  EXPECT_EQ(Confine(Domain("", "<metadata><x:a xmlns:x='urn:x'>" + big +
                                   "</x:a></metadata>")),
            Denied("/domain/metadata/x:a: more than 16384 bytes, the limit "
                   "through the TVD relay"));
}

TEST(ConfineDomainXmlTest, TextOnlyWhereListed) {
  EXPECT_EQ(Confine(Domain("hello")),
            Denied("/domain/devices: text is not allowed through the TVD "
                   "relay"));
  EXPECT_EQ(Confine(Domain("", "", "", "<vcpu>x</vcpu>")),
            Denied("/domain/vcpu: more than one, libvirt reads only one"));
  std::string vcpu = Domain("");
  vcpu.replace(vcpu.find("<vcpu>1"), 7, "<vcpu>-1");
  EXPECT_EQ(Confine(vcpu),
            Denied("/domain/vcpu: '-1' is not a number in 0..4096"));
}

TEST(ConfineDomainXmlTest, MalformedXmlIsAnXmlError) {
  EXPECT_EQ(
      ConfineDomainXml("<domain><name>x</domain>", Blue()).status().code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConfineDomainXml("<network/>", Blue()).status(),
            InvalidArgument("domain XML: root element is not <domain>"));
  EXPECT_EQ(ConfineDomainXml("<!DOCTYPE x [<!ENTITY a 'b'>]><domain/>", Blue())
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      ConfineDomainXml("<domain><uuid>1</uuid></domain>", Blue()).status(),
      InvalidArgument("domain XML: exactly one non-empty <name> needed"));
  EXPECT_EQ(ConfineDomainXml("<domain><name>a</name><uuid>123</uuid></domain>",
                             Blue())
                .status(),
            InvalidArgument("domain XML: <uuid> '123' is not of the form "
                            "8-4-4-4-12"));
}

TEST(IsPathUnderTest, Rules) {
  EXPECT_TRUE(IsPathUnder("/var/lib/tvd/blue/a.img", "/var/lib/tvd/blue"));
  EXPECT_TRUE(IsPathUnder("/var/lib/tvd/blue/d/a.img", "/var/lib/tvd/blue/"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue2/a", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue/../x", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue//x", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue/./x", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue/x/", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("relative/x", "/var/lib/tvd/blue"));
}

// docs/libvirt-filter.md carries the allowlist table between two markers.
// TVD_UPDATE_DOCS=1 rewrites it from the code.
TEST(DomainXmlAllowlistDocTest, DocsCarryTheTableOfTheCode) {
  const std::string path =
      std::string(TVD_SOURCE_DIR) + "/docs/libvirt-filter.md";
  const std::string begin = "<!-- BEGIN domain XML allowlist -->\n";
  const std::string end = "<!-- END domain XML allowlist -->";
  std::string doc = ReadFile(path);
  std::size_t b = doc.find(begin);
  std::size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << path << " lacks " << begin;
  ASSERT_NE(e, std::string::npos) << path << " lacks " << end;
  b += begin.size();
  std::string table = DomainXmlAllowlistMarkdown();
  if (const char* update = std::getenv("TVD_UPDATE_DOCS");
      update != nullptr && std::string(update) == "1") {
    doc.replace(b, e - b, table);
    std::ofstream(path) << doc;
    return;
  }
  EXPECT_EQ(doc.substr(b, e - b), table)
      << "run with TVD_UPDATE_DOCS=1 to rewrite the table in " << path;
}

}  // namespace
}  // namespace tvd::libvirt_filter
