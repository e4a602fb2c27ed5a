// A hostile tenant against a host: tenant red, with a valid certificate and
// an unmodified python-libvirt client, talks to the relay of a host whose
// libvirtd runs the QEMU driver and already holds tenant blue's domain.
// Every attack is a regression test named after it. Each one checks the
// exact refusal, that libvirtd stored nothing (the admin's view of every
// domain, inactive XML included, is unchanged) and that no host file the
// attack named was created.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "relay_env.h"

namespace tvd::libvirt_filter::testing {
namespace {

using nlohmann::json;

// libvirt's VIR_ERR_OPERATION_DENIED (29), and the RPC error domain the relay
// reports its refusals from (VIR_FROM_RPC).
constexpr int kOperationDenied = 29;
constexpr int kFromRpc = 7;

class HostileTenantTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = RelayEnv::Start({}, /*libvirtd_tls=*/false, /*qemu=*/true);
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = env->release();
    // Blue's domain on this host, defined by the admin.
    std::string file = env_->WriteFile(
        "blue-web.xml", DomainOf("blue-web", "blue", env_->Storage("blue")));
    CommandResult r = env_->Virsh(env_->AdminUri(), {"define", file});
    ASSERT_EQ(r.exit_status, 0) << r.err;
    // Files outside every TVD's storage that attacks aim at; they must
    // stay as they are.
    host_dir_ = env_->dir + "/host-only";
    std::filesystem::create_directories(host_dir_);
    env_->WriteFile("host-only/secret", "host secret\n");
  }
  static void TearDownTestSuite() {
    // An attack that got through may have left a running QEMU: stop every
    // domain through libvirtd before libvirtd itself goes.
    if (env_ != nullptr) {
      for (const auto& [name, xml] : AdminView()) {
        env_->Virsh(env_->AdminUri(), {"destroy", name});
        env_->Virsh(env_->AdminUri(), {"undefine", name});
      }
    }
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(env_, nullptr);
    before_ = AdminView();
    ASSERT_FALSE(before_.empty());
  }

  // A domain of `owner` (QEMU, TCG) with one qcow2 disk in `storage`;
  // `devices` goes inside <devices>, `extra` at the end of <domain>.
  static std::string DomainOf(const std::string& name, const std::string& owner,
                              const std::string& storage,
                              const std::string& devices = "",
                              const std::string& extra = "",
                              const std::string& os = "") {
    std::string xml =
        "<domain type='qemu'>\n"
        "  <name>" +
        name +
        "</name>\n"
        "  <memory unit='MiB'>64</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os>\n"
        "    <type arch='x86_64' machine='pc'>hvm</type>\n" +
        os +
        "  </os>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='" +
        storage + "/" + name +
        ".qcow2'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n" +
        devices + "  </devices>\n";
    if (!owner.empty()) {
      xml += "  <metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='" + owner +
             "'/></metadata>\n";
    }
    return xml + extra + "</domain>\n";
  }
  static std::string Red(const std::string& name, const std::string& devices,
                         const std::string& extra = "",
                         const std::string& os = "") {
    return DomainOf(name, "", env_->Storage("red"), devices, extra, os);
  }

  // python-libvirt as tenant red: hostile_tenant.py COMMAND URI ARGS...
  static json Tenant(const std::string& tenant,
                     const std::vector<std::string>& args) {
    ProcessOptions o;
    o.argv = {"/usr/bin/python3",
              std::string(TVD_SOURCE_DIR) +
                  "/tests/integration/libvirt_filter/hostile_tenant.py",
              args.at(0), env_->TenantUri(tenant)};
    o.argv.insert(o.argv.end(), args.begin() + 1, args.end());
    StatusOr<CommandResult> r = RunCommand(o, std::chrono::seconds(30));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return json();
    EXPECT_EQ(r->exit_status, 0) << r->err;
    json j = json::parse(r->out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r->out << r->err;
    return j;
  }
  static json RedDefines(const std::string& xml) {
    return Tenant("red", {"define", env_->WriteFile("attack.xml", xml)});
  }
  static json RedCreates(const std::string& xml) {
    return Tenant("red", {"create", env_->WriteFile("attack.xml", xml)});
  }

  // Every domain libvirtd holds, with its inactive XML: what the admin sees.
  static std::map<std::string, std::string> AdminView() {
    std::map<std::string, std::string> view;
    CommandResult names =
        env_->Virsh(env_->AdminUri(), {"list", "--all", "--name"});
    EXPECT_EQ(names.exit_status, 0) << names.err;
    std::istringstream in(names.out);
    std::string name;
    while (std::getline(in, name)) {
      if (name.empty()) continue;
      CommandResult xml =
          env_->Virsh(env_->AdminUri(), {"dumpxml", "--inactive", name});
      view[name] = xml.out;
    }
    return view;
  }

  // The refusal is exactly "operation forbidden: <detail>", libvirtd holds
  // what it held before, and none of `paths` exists.
  void ExpectRefused(const json& reply, const std::string& detail,
                     const std::vector<std::string>& paths = {}) {
    ASSERT_TRUE(reply.contains("error")) << reply.dump();
    EXPECT_EQ(reply["error"][0], kOperationDenied) << reply.dump();
    EXPECT_EQ(reply["error"][1], kFromRpc) << reply.dump();
    EXPECT_EQ(reply["error"][2], "operation forbidden: " + detail);
    EXPECT_EQ(AdminView(), before_);
    for (const std::string& p : paths) {
      EXPECT_FALSE(std::filesystem::exists(p)) << p;
    }
  }

  // A path in /root that no test makes; an attack that names it must not
  // create it.
  static std::string RootSentinel(const std::string& what) {
    return "/root/tvd-hostile-" + std::to_string(::getpid()) + "-" + what;
  }

  static RelayEnv* env_;
  static std::string host_dir_;
  std::map<std::string, std::string> before_;
};

RelayEnv* HostileTenantTest::env_ = nullptr;
std::string HostileTenantTest::host_dir_;

// The control: an ordinary domain in red's storage is accepted and stored
// with red as owner, so the refusals below are about the attack alone.
TEST_F(HostileTenantTest, OrdinaryDomainIsAccepted) {
  json r = RedDefines(Red("red-plain", ""));
  ASSERT_TRUE(r.contains("ok")) << r.dump();
  std::map<std::string, std::string> after = AdminView();
  ASSERT_TRUE(after.contains("red-plain"));
  EXPECT_NE(after["red-plain"].find("owner=\"red\""), std::string::npos)
      << after["red-plain"];
  CommandResult u = env_->Virsh(env_->AdminUri(), {"undefine", "red-plain"});
  EXPECT_EQ(u.exit_status, 0) << u.err;
}

// --- 1. Only what the relay knows to be safe -----------------------------

TEST_F(HostileTenantTest, SecondDevicesSectionSkipsDeviceChecks) {
  ExpectRefused(RedDefines(Red("red-twodev", "",
                               "  <devices><hostdev mode='subsystem' "
                               "type='pci'><source><address domain='0' "
                               "bus='0' slot='1' function='0'/></source>"
                               "</hostdev></devices>\n")),
                "/domain/devices: more than one, libvirt reads only one");
}

TEST_F(HostileTenantTest, QemuCommandLinePassThrough) {
  std::string sentinel = RootSentinel("cmdline");
  std::string xml = Red("red-cmdline", "",
                        "  <qemu:commandline xmlns:qemu="
                        "'http://libvirt.org/schemas/domain/qemu/1.0'>"
                        "<qemu:arg value='-chardev'/><qemu:arg value='file,"
                        "id=x,path=" +
                            sentinel + "'/></qemu:commandline>\n");
  ExpectRefused(RedDefines(xml),
                "/domain/qemu:commandline: not allowed through the TVD relay",
                {sentinel});
}

TEST_F(HostileTenantTest, SystemInformationFromHost) {
  ExpectRefused(RedDefines(Red("red-sysinfo", "",
                               "  <sysinfo type='fwcfg'><entry name="
                               "'opt/x' file='/etc/shadow'/></sysinfo>\n")),
                "/domain/sysinfo: not allowed through the TVD relay");
}

// --- 2. Nothing of the host ----------------------------------------------

TEST_F(HostileTenantTest, FileBackedSerialCreatesRootFile) {
  std::string sentinel = RootSentinel("serial");
  ExpectRefused(
      RedDefines(Red("red-serial", "    <serial type='file'><source path='" +
                                       sentinel +
                                       "'/><target port='0'/></serial>\n")),
      "/domain/devices/serial/@type: 'file' is not one of pty", {sentinel});
  // The same domain started at once (transient) fares no better.
  ExpectRefused(
      RedCreates(Red("red-serial", "    <serial type='file'><source path='" +
                                       sentinel +
                                       "'/><target port='0'/></serial>\n")),
      "/domain/devices/serial/@type: 'file' is not one of pty", {sentinel});
}

TEST_F(HostileTenantTest, HostKernelAsBootImage) {
  ExpectRefused(RedDefines(Red("red-kernel", "", "",
                               "    <kernel>/boot/vmlinuz</kernel>\n")),
                "/domain/os/kernel: '/boot/vmlinuz' is outside the TVD "
                "storage " +
                    env_->Storage("red"));
}

TEST_F(HostileTenantTest, HostFileAsNvram) {
  std::string sentinel = RootSentinel("nvram");
  ExpectRefused(RedDefines(Red("red-nvram", "", "",
                               "    <nvram>" + sentinel + "</nvram>\n")),
                "/domain/os/nvram: '" + sentinel +
                    "' is outside the TVD storage " + env_->Storage("red"),
                {sentinel});
}

TEST_F(HostileTenantTest, HostBinaryAsEmulator) {
  ExpectRefused(
      RedDefines(Red("red-emulator", "    <emulator>/bin/sh</emulator>\n")),
      "/domain/devices/emulator: '/bin/sh' is not this host's "
      "emulator /usr/bin/qemu-system-x86_64");
}

TEST_F(HostileTenantTest, DomainCapabilitiesOfHostBinary) {
  json r = Tenant("red", {"domcaps", "/bin/sh"});
  ASSERT_TRUE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["error"][2],
            "operation forbidden: emulator '/bin/sh': the host's emulator "
            "is chosen by the TVD, not the tenant");
}

TEST_F(HostileTenantTest, SecurityLabelOverride) {
  ExpectRefused(RedDefines(Red("red-seclabel", "",
                               "  <seclabel type='none' model='dac'/>\n")),
                "/domain/seclabel: not allowed through the TVD relay");
}

TEST_F(HostileTenantTest, MemoryBackedByHostFile) {
  ExpectRefused(RedDefines(Red("red-membacking", "",
                               "  <memoryBacking><source type='file'/>"
                               "<access mode='shared'/></memoryBacking>\n")),
                "/domain/memoryBacking: not allowed through the TVD relay");
}

TEST_F(HostileTenantTest, SharedMemoryWithAnotherDomain) {
  ExpectRefused(RedDefines(Red(
                    "red-shmem",
                    "    <shmem name='blue-web-shm'><model "
                    "type='ivshmem-plain'/><size unit='M'>4</size></shmem>\n")),
                "/domain/devices/shmem: not allowed through the TVD relay");
}

TEST_F(HostileTenantTest, HostPciDevice) {
  ExpectRefused(
      RedDefines(Red("red-hostdev",
                     "    <hostdev mode='subsystem' type='pci'><source>"
                     "<address domain='0' bus='0' slot='1' function='0'/>"
                     "</source></hostdev>\n")),
      "/domain/devices/hostdev: not allowed through the TVD relay");
}

TEST_F(HostileTenantTest, HostKeyboardAsInput) {
  ExpectRefused(RedDefines(Red("red-evdev",
                               "    <input type='evdev'><source "
                               "dev='/dev/input/event0'/></input>\n")),
                "/domain/devices/input/@type: 'evdev' is not one of tablet, "
                "mouse, keyboard");
}

TEST_F(HostileTenantTest, HostSocketAsChannel) {
  ExpectRefused(RedDefines(Red("red-channel",
                               "    <channel type='unix'><source "
                               "mode='connect' path='/run/libvirt/"
                               "libvirt-sock'/><target type='virtio' "
                               "name='org.qemu.guest_agent.0'/></channel>\n")),
                "/domain/devices/channel/source/@mode: 'connect' is not one "
                "of bind");
}

TEST_F(HostileTenantTest, HostDirectoryPassThrough) {
  ExpectRefused(RedDefines(Red("red-fs",
                               "    <filesystem type='mount'><source "
                               "dir='/'/><target dir='host'/></filesystem>\n")),
                "/domain/devices/filesystem: not allowed through the TVD "
                "relay");
}

TEST_F(HostileTenantTest, HostBlockDeviceAsDisk) {
  ExpectRefused(RedDefines(Red("red-block",
                               "    <disk type='block' device='disk'>"
                               "<driver name='qemu' type='qcow2'/><source "
                               "dev='/dev/sda'/><target dev='vdb'/></disk>\n")),
                "/domain/devices/disk/@type: 'block' is not one of file");
}

TEST_F(HostileTenantTest, HostRandomDevice) {
  ExpectRefused(RedDefines(Red("red-rng",
                               "    <rng model='virtio'><backend "
                               "model='random'>/dev/hwrng</backend></rng>\n")),
                "/domain/devices/rng/backend: '/dev/hwrng' is not "
                "/dev/urandom");
}

TEST_F(HostileTenantTest, GraphicsOnEveryHostAddress) {
  ExpectRefused(RedDefines(Red("red-vnc",
                               "    <graphics type='vnc' port='-1' "
                               "listen='0.0.0.0'/>\n")),
                "/domain/devices/graphics/@listen: '0.0.0.0' is not a "
                "loopback address");
}

TEST_F(HostileTenantTest, ConsoleTheHostDoesNotAllow) {
  // This host's relay allows no graphical console at all (the default).
  ExpectRefused(RedDefines(Red("red-vnc-local",
                               "    <graphics type='vnc' port='-1' "
                               "listen='127.0.0.1'/>\n")),
                "/domain/devices/graphics: not allowed through the TVD relay");
}

TEST_F(HostileTenantTest, NvdimmBackedByHostDevice) {
  ExpectRefused(
      RedDefines(Red("red-nvdimm",
                     "    <memory model='nvdimm'><source><path>/dev/pmem0"
                     "</path></source><target><size unit='MiB'>64</size>"
                     "<node>0</node></target></memory>\n")),
      "/domain/devices/memory: not allowed through the TVD relay");
}

// --- 4b. The TVD metadata is the relay's, and admission the proxy's -------

// A tenant cannot write the metadata the proxy trusts: a forged owner and
// forged measurements are replaced by the relay's own element.
TEST_F(HostileTenantTest, ForgedTvdMetadataClaimsBlueAndAdmission) {
  std::string xml =
      DomainOf("red-forged", "", env_->Storage("red"), "",
               "  <metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='blue'>"
               "<tvd:measure type='config' sha256='" +
                   std::string(64, '0') +
                   "'/><tvd:vnet target='eth0' network='blue-data'/></tvd:tvd>"
                   "</metadata>\n");
  json r = RedDefines(xml);
  ASSERT_TRUE(r.contains("ok")) << r.dump();
  std::map<std::string, std::string> after = AdminView();
  ASSERT_TRUE(after.contains("red-forged"));
  const std::string& stored = after["red-forged"];
  EXPECT_NE(stored.find("owner=\"red\""), std::string::npos) << stored;
  EXPECT_EQ(stored.find("owner=\"blue\""), std::string::npos) << stored;
  EXPECT_EQ(stored.find("measure"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("vnet"), std::string::npos) << stored;
  // Blue still does not see it.
  json blue = Tenant("blue", {"lookup", "red-forged"});
  ASSERT_TRUE(blue.contains("error")) << blue.dump();
  EXPECT_EQ(blue["error"][0], 42);  // VIR_ERR_NO_DOMAIN
  env_->Virsh(env_->AdminUri(), {"undefine", "red-forged"});
}

// A VM the proxy measured and admitted keeps the configuration it was
// measured with: the tenant cannot redefine it through the relay.
TEST_F(HostileTenantTest, RedefineOfAnAdmittedDomain) {
  std::string admitted =
      DomainOf("red-admitted", "", env_->Storage("red"), "",
               "  <metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='red'>"
               "<tvd:measure type='config' sha256='" +
                   std::string(64, '0') + "'/></tvd:tvd></metadata>\n");
  CommandResult d =
      env_->Virsh(env_->AdminUri(),
                  {"define", env_->WriteFile("red-admitted.xml", admitted)});
  ASSERT_EQ(d.exit_status, 0) << d.err;
  before_ = AdminView();
  ExpectRefused(
      RedDefines(Red("red-admitted",
                     "    <serial type='pty'><target port='0'/></serial>\n")),
      "domain 'red-admitted' was admitted by the TVD proxy with a measured "
      "configuration; change it with tvdctl attach on the host");
  env_->Virsh(env_->AdminUri(), {"undefine", "red-admitted"});
}

// --- 3. Disk images ------------------------------------------------------

TEST_F(HostileTenantTest, DiskPathEscapesStorage) {
  std::string escape = env_->Storage("red") + "/../blue/blue-web.qcow2";
  ExpectRefused(RedDefines(Red("red-escape",
                               "    <disk type='file' device='disk'>"
                               "<driver name='qemu' type='qcow2'/>"
                               "<source file='" +
                                   escape + "'/><target dev='vdb'/></disk>\n")),
                "/domain/devices/disk/source/@file: '" + escape +
                    "' is outside the TVD storage " + env_->Storage("red"));
}

TEST_F(HostileTenantTest, RawFormatOnWritableDisk) {
  ExpectRefused(
      RedDefines(Red("red-raw",
                     "    <disk type='file' device='disk'>"
                     "<driver name='qemu' type='raw'/><source "
                     "file='" +
                         env_->Storage("red") +
                         "/raw.img'/><target dev='vdb'/></disk>\n")),
      "/domain/devices/disk/driver/@type: 'raw' is not qcow2, the one "
      "format of TVD disks");
}

// --- 4. Ports: no bridge, VLAN, virtualport or host device ---------------

TEST_F(HostileTenantTest, NicOnHostBridge) {
  ExpectRefused(RedDefines(Red("red-bridge",
                               "    <interface type='bridge'><source "
                               "bridge='virbr0'/></interface>\n")),
                "/domain/devices/interface/@type: 'bridge' is not one of "
                "network, ethernet");
}

TEST_F(HostileTenantTest, NicOnAnotherTvdsNetwork) {
  ExpectRefused(RedDefines(Red("red-bluenet",
                               "    <interface type='network'><source "
                               "network='blue-data'/></interface>\n")),
                "/domain/devices/interface/source/@network: 'blue-data' is "
                "not a network of TVD red");
}

TEST_F(HostileTenantTest, NicWithVlanTag) {
  ExpectRefused(RedDefines(Red("red-vlan",
                               "    <interface type='network'><source "
                               "network='red-data'/><vlan><tag id='1001'/>"
                               "</vlan></interface>\n")),
                "/domain/devices/interface/vlan: not allowed through the "
                "TVD relay");
}

TEST_F(HostileTenantTest, NicWithVirtualport) {
  ExpectRefused(RedDefines(Red("red-vport",
                               "    <interface type='network'><source "
                               "network='red-data'/><virtualport "
                               "type='openvswitch'/></interface>\n")),
                "/domain/devices/interface/virtualport: not allowed through "
                "the TVD relay");
}

TEST_F(HostileTenantTest, NicNamesExistingHostDevice) {
  ExpectRefused(RedDefines(Red("red-uplink",
                               "    <interface type='ethernet'><target "
                               "dev='lo' managed='no'/></interface>\n")),
                "/domain/devices/interface/target: not allowed through the "
                "TVD relay");
}

// --- 3b. Backing chains, read by the relay before libvirt opens them ------

// qemu-img create -f qcow2 [-b BACKING -F FORMAT] PATH 16M.
static void MakeQcow2(const std::string& path, const std::string& backing = "",
                      const std::string& backing_format = "raw") {
  ProcessOptions o;
  o.argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
  if (!backing.empty()) {
    o.argv.insert(o.argv.end(), {"-u", "-b", backing, "-F", backing_format});
  }
  o.argv.insert(o.argv.end(), {path, "16M"});
  StatusOr<CommandResult> r = RunCommand(o, std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->exit_status, 0) << r->err;
}

TEST_F(HostileTenantTest, BackingChainNamesHostFile) {
  std::string image = env_->Storage("red") + "/red-chain.qcow2";
  MakeQcow2(image, host_dir_ + "/secret");
  ExpectRefused(RedDefines(Red("red-chain", "")),
                image + ": backing file '" + host_dir_ + "/secret' (" +
                    host_dir_ + "/secret) is not inside the TVD storage " +
                    env_->Storage("red") + "/");
  std::filesystem::remove(image);
}

TEST_F(HostileTenantTest, BackingChainChangedBetweenDefineAndStart) {
  std::string image = env_->Storage("red") + "/red-late.qcow2";
  MakeQcow2(image);
  json defined = RedDefines(Red("red-late", ""));
  ASSERT_TRUE(defined.contains("ok")) << defined.dump();
  // The image is swapped for one that backs onto a host file.
  std::filesystem::remove(image);
  MakeQcow2(image, host_dir_ + "/secret");
  before_ = AdminView();
  struct stat st_before {};
  ASSERT_EQ(::stat((host_dir_ + "/secret").c_str(), &st_before), 0);
  ExpectRefused(Tenant("red", {"start", "red-late"}),
                image + ": backing file '" + host_dir_ + "/secret' (" +
                    host_dir_ + "/secret) is not inside the TVD storage " +
                    env_->Storage("red") + "/");
  CommandResult state = env_->Virsh(env_->AdminUri(), {"domstate", "red-late"});
  EXPECT_EQ(state.out, "shut off\n");
  // libvirt never relabelled the host file for QEMU.
  struct stat st_after {};
  ASSERT_EQ(::stat((host_dir_ + "/secret").c_str(), &st_after), 0);
  EXPECT_EQ(st_after.st_uid, st_before.st_uid);
  EXPECT_EQ(st_after.st_mode, st_before.st_mode);
  env_->Virsh(env_->AdminUri(), {"undefine", "red-late"});
  std::filesystem::remove(image);
}

// --- 7. A foreign object answers exactly like a missing one --------------

TEST_F(HostileTenantTest, DefineWithForeignNameAnswersLikeMissingName) {
  json taken = RedDefines(Red("blue-web", ""));
  ExpectRefused(taken,
                "domain name 'blue-web': names of TVD red's domains are "
                "'red-' followed by 1 to 64 letters, digits, '_', '.' or '-'");
  json missing = RedDefines(Red("blue-nothing", ""));
  ExpectRefused(missing,
                "domain name 'blue-nothing': names of TVD red's domains "
                "are 'red-' followed by 1 to 64 letters, digits, '_', '.' or "
                "'-'");
}

TEST_F(HostileTenantTest, ForeignUuidNeverReachesLibvirt) {
  CommandResult blue_uuid =
      env_->Virsh(env_->AdminUri(), {"domuuid", "blue-web"});
  ASSERT_EQ(blue_uuid.exit_status, 0) << blue_uuid.err;
  std::string uuid = blue_uuid.out.substr(0, 36);
  std::string xml = Red("red-uuid", "");
  xml.replace(xml.find("  <memory"), 0, "  <uuid>" + uuid + "</uuid>\n");
  json r = RedDefines(xml);
  ASSERT_TRUE(r.contains("ok")) << r.dump();
  CommandResult red_uuid =
      env_->Virsh(env_->AdminUri(), {"domuuid", "red-uuid"});
  ASSERT_EQ(red_uuid.exit_status, 0) << red_uuid.err;
  EXPECT_NE(red_uuid.out.substr(0, 36), uuid);
  std::map<std::string, std::string> after = AdminView();
  EXPECT_EQ(after["blue-web"], before_["blue-web"]);
  env_->Virsh(env_->AdminUri(), {"undefine", "red-uuid"});
}

TEST_F(HostileTenantTest, RenameOntoForeignNameAnswersLikeMissingName) {
  ASSERT_TRUE(RedDefines(Red("red-own", "")).contains("ok"));
  before_ = AdminView();
  ExpectRefused(Tenant("red", {"rename", "red-own", "blue-web"}),
                "domain name 'blue-web': names of TVD red's domains are "
                "'red-' followed by 1 to 64 letters, digits, '_', '.' or '-'");
  ExpectRefused(Tenant("red", {"rename", "red-own", "blue-nothing"}),
                "domain name 'blue-nothing': names of TVD red's domains "
                "are 'red-' followed by 1 to 64 letters, digits, '_', '.' or "
                "'-'");
  env_->Virsh(env_->AdminUri(), {"undefine", "red-own"});
}

TEST_F(HostileTenantTest, AutostartPastTheRelaysStartChecks) {
  ASSERT_TRUE(RedDefines(Red("red-auto", "")).contains("ok"));
  before_ = AdminView();
  ExpectRefused(Tenant("red", {"autostart", "red-auto"}),
                "autostart: libvirtd would start the domain at its own start, "
                "past the TVD relay's checks");
  CommandResult info = env_->Virsh(env_->AdminUri(), {"dominfo", "red-auto"});
  EXPECT_NE(info.out.find("Autostart:      disable"), std::string::npos)
      << info.out;
  env_->Virsh(env_->AdminUri(), {"undefine", "red-auto"});
}

}  // namespace
}  // namespace tvd::libvirt_filter::testing
