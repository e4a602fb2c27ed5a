// virsh as tenants blue, red and green through the relay, and as the admin
// directly on libvirtd. One shared environment per binary (libvirtd start-up
// costs about a second).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "relay_env.h"
#include "tvd/testing/libvirt_pki.h"

namespace tvd::libvirt_filter::testing {
namespace {

constexpr char kBlueUuid1[] = "b1000000-0000-4000-8000-000000000001";
constexpr char kBlueUuid2[] = "b1000000-0000-4000-8000-000000000002";
constexpr char kRedUuid1[] = "2ed00000-0000-4000-8000-000000000001";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class RelayVirshTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RelayOptions options;
    options.frame_timeout = std::chrono::milliseconds(1000);
    options.write_timeout = std::chrono::milliseconds(2000);
    options.max_buffered = 1 << 20;
    auto env = RelayEnv::Start(options);
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = env->release();
    // The admin defines the tenants' first domains (and the test driver's
    // own "test" domain, running, belongs to no tenant).
    for (const auto& [name, owner, uuid] :
         {std::tuple{"blue-vm1", "blue", kBlueUuid1},
          std::tuple{"blue-vm2", "blue", kBlueUuid2},
          std::tuple{"red-vm1", "red", kRedUuid1}}) {
      std::string file = env_->WriteFile(std::string(name) + ".xml",
                                         DomainXml(name, owner, uuid));
      CommandResult r = env_->Virsh(env_->AdminUri(), {"define", file});
      ASSERT_EQ(r.exit_status, 0) << r.err;
    }
    CommandResult r = env_->Virsh(env_->AdminUri(), {"start", "red-vm1"});
    ASSERT_EQ(r.exit_status, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(env_, nullptr); }

  CommandResult Blue(const std::vector<std::string>& args) {
    return env_->Virsh(env_->TenantUri("blue"), args);
  }
  CommandResult Red(const std::vector<std::string>& args) {
    return env_->Virsh(env_->TenantUri("red"), args);
  }
  CommandResult Admin(const std::vector<std::string>& args) {
    return env_->Virsh(env_->AdminUri(), args);
  }

  // Another relay in front of the same libvirtd (own certificate `cn`,
  // upstream `uri`, the given ownership and disk checker), port chosen.
  static StatusOr<std::unique_ptr<RelayServer>> StartRelay(
      const std::string& cn, const std::string& uri,
      const OwnershipSource& ownership, DiskImageChecker& disks) {
    TVD_ASSIGN_OR_RETURN(
        pki::KeyAndCertificate server,
        pki::IssueCertificate(env_->ca, pki::Role::kHost, cn,
                              pki::Validity::ForDays(7), {"IP:127.0.0.1"}));
    RelayOptions options;
    options.port = 0;
    options.upstream_socket = env_->libvirtd->socket_path();
    options.upstream_uri = uri;
    return RelayServer::Start(
        options, ownership, disks,
        channel::TlsCredentials{env_->ca.cert_pem, server.cert_pem,
                                server.key_pem.Clone()});
  }

  static RelayEnv* env_;
};

RelayEnv* RelayVirshTest::env_ = nullptr;

TEST_F(RelayVirshTest, EachTenantListsExactlyItsDomains) {
  CommandResult blue = Blue({"list", "--all", "--name"});
  ASSERT_EQ(blue.exit_status, 0) << blue.err;
  EXPECT_EQ(Lines(blue.out),
            (std::vector<std::string>{"blue-vm1", "blue-vm2"}));
  CommandResult red = Red({"list", "--all", "--name"});
  ASSERT_EQ(red.exit_status, 0) << red.err;
  EXPECT_EQ(Lines(red.out), (std::vector<std::string>{"red-vm1"}));
}

TEST_F(RelayVirshTest, AdminSeesEveryDomainDirectly) {
  CommandResult admin = Admin({"list", "--all", "--name"});
  ASSERT_EQ(admin.exit_status, 0) << admin.err;
  std::vector<std::string> names = Lines(admin.out);
  for (const char* n : {"blue-vm1", "blue-vm2", "red-vm1", "test"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

TEST_F(RelayVirshTest, TenantStartsInspectsAndStopsItsOwnDomain) {
  CommandResult r = Blue({"start", "blue-vm2"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = Blue({"domstate", "blue-vm2"});
  EXPECT_EQ(r.out, "running\n");
  r = Blue({"dominfo", "blue-vm2"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find(kBlueUuid2), std::string::npos) << r.out;
  r = Blue({"dumpxml", "blue-vm2"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("owner=\"blue\""), std::string::npos) << r.out;
  r = Blue({"list", "--name"});
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"blue-vm2"}));
  r = Blue({"destroy", "blue-vm2"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = Blue({"domstate", "blue-vm2"});
  EXPECT_EQ(r.out, "shut off\n");
}

// Another tenant's domain, by name, UUID or id, answers exactly like a
// domain that does not exist.
TEST_F(RelayVirshTest, ForeignDomainByNameLooksMissing) {
  CommandResult foreign = Blue({"dominfo", "red-vm1"});
  CommandResult missing = Blue({"dominfo", "no-such-vm"});
  EXPECT_EQ(foreign.exit_status, 1);
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_EQ(foreign.out, "");
  EXPECT_EQ(foreign.err, "error: failed to get domain 'red-vm1'\n");
  EXPECT_EQ(missing.err, "error: failed to get domain 'no-such-vm'\n");
}

TEST_F(RelayVirshTest, ForeignDomainByUuidLooksMissing) {
  CommandResult foreign = Blue({"dominfo", kRedUuid1});
  CommandResult missing =
      Blue({"dominfo", "99999999-0000-4000-8000-000000000001"});
  EXPECT_EQ(foreign.exit_status, 1);
  EXPECT_EQ(foreign.err.substr(foreign.err.find('\n')),
            missing.err.substr(missing.err.find('\n')));
}

TEST_F(RelayVirshTest, ForeignDomainByIdLooksMissing) {
  CommandResult id = Admin({"domid", "red-vm1"});
  ASSERT_EQ(id.exit_status, 0) << id.err;
  std::string red_id = Lines(id.out).front();
  CommandResult foreign = Blue({"dominfo", red_id});
  CommandResult missing = Blue({"dominfo", "9999"});
  EXPECT_EQ(foreign.exit_status, 1);
  EXPECT_EQ(foreign.err.substr(foreign.err.find('\n')),
            missing.err.substr(missing.err.find('\n')));
}

TEST_F(RelayVirshTest, ForeignDomainCannotBeDumpedStoppedOrUndefined) {
  for (const char* verb : {"dumpxml", "destroy", "undefine", "domstate"}) {
    CommandResult r = Blue({verb, "red-vm1"});
    EXPECT_EQ(r.exit_status, 1) << verb;
    EXPECT_EQ(r.err, "error: failed to get domain 'red-vm1'\n") << verb;
  }
  CommandResult state = Admin({"domstate", "red-vm1"});
  EXPECT_EQ(state.out, "running\n");
}

TEST_F(RelayVirshTest, UnownedAdminDomainIsInvisibleToTenants) {
  CommandResult r = Red({"dominfo", "test"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "error: failed to get domain 'test'\n");
}

TEST_F(RelayVirshTest, DefineForcesTheTenantsOwnership) {
  // The tenant claims red; the relay writes blue.
  std::string file = env_->WriteFile(
      "claim.xml", DomainXml("blue-claim", "red", "",
                             "<disk type='file' device='disk'><driver "
                             "name='qemu' type='qcow2'/><source "
                             "file='/var/lib/tvd/blue/claim.img'/><target "
                             "dev='vda'/></disk>"));
  CommandResult r = Blue({"define", file});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = Admin({"dumpxml", "blue-claim"});
  EXPECT_NE(r.out.find("owner=\"blue\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("owner=\"red\""), std::string::npos) << r.out;
  r = Red({"dominfo", "blue-claim"});
  EXPECT_EQ(r.exit_status, 1);
  r = Blue({"undefine", "blue-claim"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(RelayVirshTest, DefineWithoutMetadataGetsTheTenantsOwnership) {
  std::string file =
      env_->WriteFile("plain.xml", DomainXml("red-plain", "", ""));
  CommandResult r = Red({"define", file});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = Red({"list", "--all", "--name"});
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"red-plain", "red-vm1"}));
  r = Red({"undefine", "red-plain"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(RelayVirshTest, DefineWithHostDeviceIsDenied) {
  std::string file = env_->WriteFile(
      "hostdev.xml",
      DomainXml("blue-hostdev", "blue", "",
                "<hostdev mode='subsystem' type='pci'><source><address "
                "domain='0' bus='0' slot='1' function='0'/></source>"
                "</hostdev>"));
  CommandResult r = Blue({"define", file});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: /domain/devices/hostdev: not "
                       "allowed through the TVD relay"),
            std::string::npos)
      << r.err;
}

TEST_F(RelayVirshTest, DefineWithQemuCommandLineIsDenied) {
  std::string xml =
      "<domain type='test' "
      "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>blue-"
      "cmd</name><memory>8192</memory><os><type>hvm</type></os>"
      "<qemu:commandline><qemu:arg value='-device'/></qemu:commandline>"
      "</domain>";
  CommandResult r = Blue({"define", env_->WriteFile("cmd.xml", xml)});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: /domain/@xmlns:qemu: not allowed "
                       "through the TVD relay"),
            std::string::npos)
      << r.err;
}

TEST_F(RelayVirshTest, DefineWithDiskOutsideTheTvdStorageIsDenied) {
  std::string file = env_->WriteFile(
      "disk.xml", DomainXml("blue-disk", "blue", "",
                            "<disk type='file' device='disk'><driver "
                            "name='qemu' type='qcow2'/><source "
                            "file='/var/lib/tvd/red/secret.img'/><target "
                            "dev='vda'/></disk>"));
  CommandResult r = Blue({"define", file});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: "
                       "/domain/devices/disk/source/@file: "
                       "'/var/lib/tvd/red/secret.img' is outside the TVD "
                       "storage /var/lib/tvd/blue"),
            std::string::npos)
      << r.err;
}

TEST_F(RelayVirshTest, DefineWithNicOnAnotherTvdsNetworkIsDenied) {
  std::string file =
      env_->WriteFile("nic.xml", DomainXml("blue-nic", "blue", "",
                                           "<interface type='network'><source "
                                           "network='red-data'/></interface>"));
  CommandResult r = Blue({"define", file});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: "
                       "/domain/devices/interface/source/@network: 'red-data' "
                       "is not a network of TVD blue"),
            std::string::npos)
      << r.err;
}

// Another tenant's name answers exactly like an unused name outside the
// tenant's namespace, and nothing is stored.
TEST_F(RelayVirshTest, DefineOverAnotherTenantsNameLooksLikeAnUnusedName) {
  auto define = [&](const std::string& name) {
    return Blue({"define", env_->WriteFile("steal-" + name + ".xml",
                                           DomainXml(name, "blue"))});
  };
  CommandResult foreign = define("red-vm1");
  CommandResult unused = define("red-unused");
  EXPECT_EQ(foreign.exit_status, 1);
  EXPECT_EQ(unused.exit_status, 1);
  const std::string rule =
      "': names of TVD blue's domains are 'blue-' followed by 1 to 64 "
      "letters, digits, '_', '.' or '-'";
  EXPECT_NE(foreign.err.find("error: operation forbidden: domain name "
                             "'red-vm1" +
                             rule),
            std::string::npos)
      << foreign.err;
  // The same answer, but for the name and the file name virsh prints.
  auto normalized = [](std::string text, const std::string& name) {
    for (std::size_t at; (at = text.find(name)) != std::string::npos;) {
      text.replace(at, name.size(), "NAME");
    }
    return text;
  };
  EXPECT_EQ(normalized(foreign.err, "red-vm1"),
            normalized(unused.err, "red-unused"));
  CommandResult xml = Admin({"dumpxml", "red-vm1"});
  EXPECT_NE(xml.out.find("owner=\"red\""), std::string::npos);
  EXPECT_EQ(Admin({"dominfo", "red-unused"}).exit_status, 1);
}

// The admin's own domain under a name in blue's namespace (a
// misconfiguration): blue cannot take the name, and is not told whose it is.
TEST_F(RelayVirshTest, NameInTheNamespaceHeldByTheAdminIsReserved) {
  ASSERT_EQ(Admin({"define", env_->WriteFile("blue-admins.xml",
                                             DomainXml("blue-admins", ""))})
                .exit_status,
            0);
  CommandResult r =
      Blue({"define", env_->WriteFile("take-admins.xml",
                                      DomainXml("blue-admins", "blue"))});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("error: operation forbidden: domain name "
                       "'blue-admins' is reserved on this host; ask the "
                       "datacenter admin"),
            std::string::npos)
      << r.err;
  CommandResult xml = Admin({"dumpxml", "blue-admins"});
  EXPECT_EQ(xml.out.find("owner="), std::string::npos) << xml.out;
  EXPECT_EQ(Admin({"undefine", "blue-admins"}).exit_status, 0);
}

// virt-install writes a random <uuid>; here it is red's. The relay drops it,
// libvirtd chooses another, and red's domain is untouched.
TEST_F(RelayVirshTest, DefineWithAnotherTenantsUuidGetsAFreshOne) {
  std::string file = env_->WriteFile(
      "steal-uuid.xml", DomainXml("blue-thief", "blue", kRedUuid1));
  CommandResult r = Blue({"define", file});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  CommandResult uuid = Admin({"domuuid", "blue-thief"});
  ASSERT_EQ(uuid.exit_status, 0) << uuid.err;
  EXPECT_EQ(uuid.out.find(kRedUuid1), std::string::npos) << uuid.out;
  CommandResult red = Admin({"domname", kRedUuid1});
  EXPECT_EQ(Lines(red.out), std::vector<std::string>{"red-vm1"});
  EXPECT_NE(Admin({"dumpxml", "red-vm1"}).out.find("owner=\"red\""),
            std::string::npos);
  EXPECT_EQ(Blue({"undefine", "blue-thief"}).exit_status, 0);
}

// Redefining one's own domain keeps its UUID, whatever the XML says.
TEST_F(RelayVirshTest, RedefinitionKeepsTheDomainsUuid) {
  std::string file = env_->WriteFile(
      "redefine.xml",
      DomainXml("blue-vm1", "blue", "99999999-0000-4000-8000-000000000099"));
  CommandResult r = Blue({"define", file});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  CommandResult uuid = Admin({"domuuid", "blue-vm1"});
  EXPECT_EQ(Lines(uuid.out), std::vector<std::string>{kBlueUuid1});
}

TEST_F(RelayVirshTest, AutostartCannotBeTurnedOn) {
  CommandResult r = Blue({"autostart", "blue-vm1"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: autostart: libvirtd would start "
                       "the domain at its own start, past the TVD relay's "
                       "checks"),
            std::string::npos)
      << r.err;
  r = Blue({"autostart", "--disable", "blue-vm1"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  r = Admin({"dominfo", "blue-vm1"});
  EXPECT_NE(r.out.find("Autostart:      disable"), std::string::npos) << r.out;
}

TEST_F(RelayVirshTest, DomainCapabilitiesOfAHostBinaryAreRefused) {
  CommandResult r =
      Blue({"domcapabilities", "--emulatorbin", "/usr/bin/touch"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: emulator '/usr/bin/touch': the "
                       "host's emulator is chosen by the TVD, not the tenant"),
            std::string::npos)
      << r.err;
}

// Every file disk goes through the relay's DiskImageChecker before a define
// is stored and before a start; a refusal stops the call before libvirtd.
TEST_F(RelayVirshTest, DiskImagesAreCheckedAtDefineAndStart) {
  std::string disk =
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
      "<source file='/var/lib/tvd/blue/chk.qcow2'/><target dev='vda'/>"
      "</disk>";
  // The admin defines one of blue's domains with a disk.
  ASSERT_EQ(Admin({"define",
                   env_->WriteFile("chk-admin.xml",
                                   DomainXml("blue-chk", "blue", "", disk))})
                .exit_status,
            0);
  RecordingDiskImageChecker refusing;
  refusing.RefuseWith(
      "backing file '/etc/shadow' is outside /var/lib/tvd/blue");
  auto relay =
      StartRelay("relay-chk", "test:///default", *env_->ownership, refusing);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  std::string uri = "test+tls://127.0.0.1:" + std::to_string((*relay)->port()) +
                    "/default?pkipath=" + env_->PkiDir("blue");
  const std::string refusal =
      "operation forbidden: /var/lib/tvd/blue/chk.qcow2: backing file "
      "'/etc/shadow' is outside /var/lib/tvd/blue";
  CommandResult r = env_->Virsh(uri, {"start", "blue-chk"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find(refusal), std::string::npos) << r.err;
  EXPECT_EQ(Lines(Admin({"domstate", "blue-chk"}).out),
            std::vector<std::string>{"shut off"});
  r = env_->Virsh(
      uri, {"define", env_->WriteFile("chk-new.xml",
                                      DomainXml("blue-chk2", "", "", disk))});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find(refusal), std::string::npos) << r.err;
  EXPECT_EQ(Admin({"dominfo", "blue-chk2"}).exit_status, 1);
  const RecordingDiskImageChecker::Call expected{"/var/lib/tvd/blue/chk.qcow2",
                                                 "qcow2", "/var/lib/tvd/blue"};
  EXPECT_EQ(refusing.calls(),
            (std::vector<RecordingDiskImageChecker::Call>{expected, expected}));
  (*relay)->Stop();

  // Through the shared relay (its checker accepts): started, and checked.
  std::size_t before = env_->disks.calls().size();
  r = Blue({"start", "blue-chk"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  std::vector<RecordingDiskImageChecker::Call> calls = env_->disks.calls();
  ASSERT_EQ(calls.size(), before + 1);
  EXPECT_EQ(calls.back(), expected);
  EXPECT_EQ(Blue({"destroy", "blue-chk"}).exit_status, 0);
  EXPECT_EQ(Blue({"undefine", "blue-chk"}).exit_status, 0);
}

TEST_F(RelayVirshTest, CreateIsConfinedLikeDefine) {
  std::string file = env_->WriteFile(
      "create-bad.xml", DomainXml("blue-transient", "blue", "",
                                  "<hostdev mode='subsystem' type='usb'/>"));
  CommandResult r = Blue({"create", file});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("/domain/devices/hostdev: not allowed through the TVD "
                       "relay"),
            std::string::npos)
      << r.err;
  file = env_->WriteFile("create-ok.xml", DomainXml("red-transient", "blue"));
  r = Red({"create", file});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = Red({"list", "--name"});
  EXPECT_EQ(Lines(r.out),
            (std::vector<std::string>{"red-transient", "red-vm1"}));
  r = Red({"destroy", "red-transient"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(RelayVirshTest, SetMetadataCannotChangeOwnership) {
  CommandResult r =
      Blue({"metadata", "blue-vm1", "--uri", "urn:tvd:vm:1", "--key", "tvd",
            "--set", "<tvd owner='red'/>", "--config"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: the TVD metadata (urn:tvd:vm:1) "
                       "is managed by the TVD and cannot be changed"),
            std::string::npos)
      << r.err;
  // Other metadata is the tenant's to set.
  r = Blue({"desc", "blue-vm1", "--config", "--new-desc", "web server"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  CommandResult xml = Admin({"dumpxml", "blue-vm1"});
  EXPECT_NE(xml.out.find("owner=\"blue\""), std::string::npos);
}

TEST_F(RelayVirshTest, RenameKeepsOwnership) {
  std::string file =
      env_->WriteFile("rename.xml", DomainXml("blue-old", "blue"));
  ASSERT_EQ(Blue({"define", file}).exit_status, 0);
  CommandResult r = Blue({"domrename", "blue-old", "blue-new"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = Blue({"dumpxml", "blue-new"});
  EXPECT_NE(r.out.find("owner=\"blue\""), std::string::npos) << r.out;
  EXPECT_EQ(Red({"dominfo", "blue-new"}).exit_status, 1);
  EXPECT_EQ(Blue({"undefine", "blue-new"}).exit_status, 0);
}

TEST_F(RelayVirshTest, RenameOfForeignDomainLooksMissing) {
  CommandResult r = Blue({"domrename", "red-vm1", "mine"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "error: failed to get domain 'red-vm1'\n");
}

// Renaming onto another tenant's name answers exactly like renaming onto an
// unused name outside the namespace.
TEST_F(RelayVirshTest, RenameOntoAForeignNameLooksLikeAnUnusedName) {
  CommandResult foreign = Blue({"domrename", "blue-vm2", "red-vm1"});
  CommandResult unused = Blue({"domrename", "blue-vm2", "red-unused"});
  EXPECT_EQ(foreign.exit_status, 1);
  EXPECT_EQ(foreign.err,
            "error: operation forbidden: domain name 'red-vm1': names of TVD "
            "blue's domains are 'blue-' followed by 1 to 64 letters, digits, "
            "'_', '.' or '-'\n");
  EXPECT_EQ(unused.err,
            "error: operation forbidden: domain name 'red-unused': names of "
            "TVD blue's domains are 'blue-' followed by 1 to 64 letters, "
            "digits, '_', '.' or '-'\n");
  EXPECT_EQ(Lines(Admin({"domname", kBlueUuid2}).out),
            std::vector<std::string>{"blue-vm2"});
}

TEST_F(RelayVirshTest, ProcedureOffTheAllowListIsDenied) {
  std::string dev =
      env_->WriteFile("dev.xml",
                      "<interface type='network'><source network='default'/>"
                      "</interface>");
  CommandResult r = Blue({"attach-device", "blue-vm1", dev, "--config"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: procedure 160 is not available "
                       "through the TVD relay"),
            std::string::npos)
      << r.err;
}

TEST_F(RelayVirshTest, QemuProgramIsDenied) {
  CommandResult r =
      Blue({"qemu-monitor-command", "blue-vm1", "--hmp", "info status"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: RPC program 0x20008087 is not "
                       "available through the TVD relay"),
            std::string::npos)
      << r.err;
}

TEST_F(RelayVirshTest, HostNetworksAndPoolsLookEmptyAndCannotBeCreated) {
  CommandResult admin = Admin({"net-list", "--all", "--name"});
  ASSERT_FALSE(Lines(admin.out).empty()) << "test driver has a network";
  CommandResult r = Blue({"net-list", "--all", "--name"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_TRUE(Lines(r.out).empty()) << r.out;
  r = Blue({"pool-list", "--all", "--name"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_TRUE(Lines(r.out).empty()) << r.out;
  r = Blue({"nodedev-list"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_TRUE(Lines(r.out).empty()) << r.out;
  r = Blue({"secret-list"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::string net =
      env_->WriteFile("net.xml", "<network><name>blue-own</name></network>");
  r = Blue({"net-define", net});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: procedure 41 is not available"),
            std::string::npos)
      << r.err;
  r = Blue({"net-dumpxml", "default"});
  EXPECT_EQ(r.exit_status, 1);
}

TEST_F(RelayVirshTest, ConnectUriIsPinned) {
  // Whatever driver the tenant names, the relay opens its configured URI.
  std::string uri =
      "qemu+tls://127.0.0.1:" + std::to_string(env_->relay->port()) +
      "/system?pkipath=" + env_->PkiDir("blue");
  // The private libvirtd's QEMU driver has no such domains: what is listed
  // comes from the pinned test:///default.
  CommandResult r = env_->Virsh(uri, {"list", "--all", "--name"});
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"blue-vm1", "blue-vm2"}));
}

TEST_F(RelayVirshTest, TenantWithoutTvdIsRefusedWithAReason) {
  CommandResult r = env_->Virsh(env_->TenantUri("green"), {"list"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: the TVD relay refuses this "
                       "client: no TVD policy names "
                       "'O=test-vdc,OU=tenant,CN=green' as its owner"),
            std::string::npos)
      << r.err;
}

TEST_F(RelayVirshTest, CountsAreRecomputed) {
  // virsh's "list" uses ListAllDomains; the older count calls are checked
  // through python-libvirt (relay_python_test) and the unit tests.
  CommandResult r = Blue({"list", "--inactive", "--name"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"blue-vm1", "blue-vm2"}));
  r = Red({"list", "--state-running", "--name"});
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"red-vm1"}));
}

TEST_F(RelayVirshTest, AllDomainStatsShowOnlyOwnDomains) {
  CommandResult r = Red({"domstats", "--state"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("Domain: 'red-vm1'"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("blue-vm"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("'test'"), std::string::npos) << r.out;
  r = Red({"domstats", "--state", "blue-vm1"});
  EXPECT_EQ(r.exit_status, 1);
}

// Certificates as `tvdctl pki issue tenant` makes them (tvd_pki): whether
// libvirt's client accepts them as they are.
TEST_F(RelayVirshTest, TvdPkiTenantCertificateWithVirsh) {
  // Exactly what `tvdctl pki issue tenant blue` writes, used with virsh.
  auto cert = pki::IssueCertificate(env_->ca, pki::Role::kTenant, "blue",
                                    pki::Validity::ForDays(1));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  std::string dir = env_->dir + "/pki-tvdctl-blue";
  ASSERT_TRUE(
      tvd::testing::WriteClientPkiDir(dir, env_->ca.cert_pem, *cert).ok());
  CommandResult r = env_->Virsh(
      "test+tls://127.0.0.1:" + std::to_string(env_->relay->port()) +
          "/default?pkipath=" + dir,
      {"list", "--all", "--name"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  CommandResult blue = Blue({"list", "--all", "--name"});
  ASSERT_EQ(blue.exit_status, 0) << blue.err;
  EXPECT_EQ(r.out, blue.out);
  EXPECT_NE(r.out.find("blue-vm1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("red-"), std::string::npos) << r.out;
}

// The libvirt-filter binary itself, configured by a file, serves virsh and
// stops cleanly on SIGTERM.
TEST_F(RelayVirshTest, DaemonBinaryWithConfigFile) {
  auto server =
      pki::IssueCertificate(env_->ca, pki::Role::kHost, "relay2",
                            pki::Validity::ForDays(7), {"IP:127.0.0.1"});
  ASSERT_TRUE(server.ok());
  std::string dir = env_->dir + "/daemon";
  std::filesystem::create_directories(dir + "/policies");
  for (const char* tvd : {"blue", "red"}) {
    std::filesystem::copy_file(env_->dir + "/policies/" + tvd + ".xml",
                               dir + "/policies/" + tvd + ".xml");
  }
  std::string key(reinterpret_cast<const char*>(server->key_pem.data()),
                  server->key_pem.size());
  env_->WriteFile("daemon/ca.crt", env_->ca.cert_pem);
  env_->WriteFile("daemon/relay.crt", server->cert_pem);
  env_->WriteFile("daemon/relay.key", key);
  // The binary refuses a private key open to group or others.
  std::filesystem::permissions(
      dir + "/relay.key",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // A free port: bind to 0, read it, release it.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(probe);
  std::string conf = env_->WriteFile(
      "daemon/relay.conf",
      "# test\nlisten = 127.0.0.1:" + std::to_string(port) + "\nca-cert = " +
          dir + "/ca.crt\ncert = " + dir + "/relay.crt\nkey = " + dir +
          "/relay.key\nupstream-socket = " + env_->libvirtd->socket_path() +
          "\nupstream-uri = test:///default\npolicy-dir = " + dir +
          "/policies\n");
  ProcessOptions o;
  o.argv = {std::string(TVD_BINARY_DIR) + "/libvirt-filter/libvirt-filter",
            "--config=" + conf};
  o.stderr_path = dir + "/relay.log";
  auto daemon = ChildProcess::Start(o);
  ASSERT_TRUE(daemon.ok()) << daemon.status().ToString();
  std::string uri = "test+tls://127.0.0.1:" + std::to_string(port) +
                    "/default?pkipath=" + env_->PkiDir("red");
  CommandResult r;
  for (int i = 0; i < 50; ++i) {
    r = env_->Virsh(uri, {"list", "--all", "--name"});
    if (r.exit_status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"red-vm1"}));
  ASSERT_TRUE(daemon->Signal(SIGTERM).ok());
  StatusOr<int> exit = daemon->Wait(std::chrono::seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  EXPECT_EQ(*exit, 0);
}

// The same relay in front of libvirtd's QEMU driver (qemu:///system pinned):
// a QEMU domain defined by blue is blue's alone.
TEST_F(RelayVirshTest, QemuDriverThroughTheRelay) {
  auto relay =
      StartRelay("relay-qemu", "qemu:///system", *env_->ownership, env_->disks);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  auto uri = [&](const std::string& tenant) {
    return "qemu+tls://127.0.0.1:" + std::to_string((*relay)->port()) +
           "/system?pkipath=" + env_->PkiDir(tenant);
  };
  std::string xml =
      "<domain type='qemu'><name>blue-q1</name><memory>65536</memory>"
      "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
      "<source file='/var/lib/tvd/blue/q1.img'/><target dev='vda' "
      "bus='virtio'/>"
      "</disk></devices></domain>";
  CommandResult r =
      env_->Virsh(uri("blue"), {"define", env_->WriteFile("q1.xml", xml)});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = env_->Virsh(uri("blue"), {"list", "--all", "--name"});
  EXPECT_EQ(Lines(r.out), std::vector<std::string>{"blue-q1"});
  r = env_->Virsh(uri("red"), {"list", "--all", "--name"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_TRUE(Lines(r.out).empty()) << r.out;
  r = env_->Virsh(uri("red"), {"dominfo", "blue-q1"});
  EXPECT_EQ(r.err, "error: failed to get domain 'blue-q1'\n");
  r = env_->Virsh(env_->libvirtd->ClientUri("qemu:///system"),
                  {"dumpxml", "blue-q1"});
  EXPECT_NE(r.out.find("owner=\"blue\""), std::string::npos) << r.out;
  r = env_->Virsh(uri("blue"), {"undefine", "blue-q1"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  (*relay)->Stop();
}

// What virt-install really sends (tests/unit/libvirt_filter/data) passes the
// relay and libvirtd's QEMU driver; the stored domain carries the relay's
// owner and the host's emulator. A file-backed serial port (a root write
// primitive when the domain starts) is refused and nothing is stored.
TEST_F(RelayVirshTest, VirtInstallDomainThroughTheRelayOnTheQemuDriver) {
  auto relay =
      StartRelay("relay-qemu", "qemu:///system", *env_->ownership, env_->disks);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  const std::string blue =
      "qemu+tls://127.0.0.1:" + std::to_string((*relay)->port()) +
      "/system?pkipath=" + env_->PkiDir("blue");
  const std::string admin = env_->libvirtd->ClientUri("qemu:///system");

  std::ifstream in(std::string(TVD_SOURCE_DIR) +
                   "/tests/unit/libvirt_filter/data/virt_install_console.xml");
  std::stringstream text;
  text << in.rdbuf();
  // The second document is the definition virt-install leaves behind.
  std::string all = text.str();
  std::size_t second = all.find("<domain", all.find("</domain>"));
  ASSERT_NE(second, std::string::npos);
  std::string xml = all.substr(second);
  CommandResult r =
      env_->Virsh(blue, {"define", env_->WriteFile("virt-install.xml", xml)});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = env_->Virsh(admin, {"dumpxml", "blue-web"});
  EXPECT_NE(r.out.find("owner=\"blue\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<emulator>/usr/bin/qemu-system-x86_64</emulator>"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("<driver name='qemu' type='qcow2' discard='unmap'/>"),
            std::string::npos)
      << r.out;
  r = env_->Virsh(blue, {"undefine", "blue-web"});
  EXPECT_EQ(r.exit_status, 0) << r.err;

  CommandResult before = env_->Virsh(admin, {"list", "--all", "--name"});
  std::string serial = xml;
  serial.replace(serial.find("<console type=\"pty\"/>"), 22,
                 "<serial type='file'><source path='/root/tvd-owned'/>"
                 "</serial>");
  r = env_->Virsh(blue, {"define", env_->WriteFile("file-serial.xml", serial)});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("operation forbidden: /domain/devices/serial/@type: "
                       "'file' is not one of pty"),
            std::string::npos)
      << r.err;
  CommandResult after = env_->Virsh(admin, {"list", "--all", "--name"});
  EXPECT_EQ(after.out, before.out);
  EXPECT_FALSE(std::filesystem::exists("/root/tvd-owned"));
  (*relay)->Stop();
}

// virt-manager's New VM definition (SPICE console, agent channels, USB
// redirection, rng) on a host whose relay allows SPICE: libvirtd's QEMU
// driver accepts what the relay forwards.
TEST_F(RelayVirshTest, VirtManagerDomainThroughASpiceRelayOnTheQemuDriver) {
  auto ownership = LoadPolicyDirectory(
      env_->dir + "/policies", "/var/lib/tvd",
      HostConfinement{kDefaultEmulator, GraphicsPolicy::kSpice});
  ASSERT_TRUE(ownership.ok()) << ownership.status().ToString();
  auto relay =
      StartRelay("relay-spice", "qemu:///system", **ownership, env_->disks);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  const std::string blue =
      "qemu+tls://127.0.0.1:" + std::to_string((*relay)->port()) +
      "/system?pkipath=" + env_->PkiDir("blue");
  std::ifstream in(std::string(TVD_SOURCE_DIR) +
                   "/tests/unit/libvirt_filter/data/virt_manager_new_vm.xml");
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  std::string xml = all.substr(all.find("<domain", all.find("</domain>")));
  CommandResult r =
      env_->Virsh(blue, {"define", env_->WriteFile("virt-manager.xml", xml)});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  r = env_->Virsh(env_->libvirtd->ClientUri("qemu:///system"),
                  {"dumpxml", "blue-desktop"});
  EXPECT_NE(r.out.find("<graphics type='spice'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("owner=\"blue\""), std::string::npos) << r.out;
  r = env_->Virsh(blue, {"undefine", "blue-desktop"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  (*relay)->Stop();
}

// virt-manager-style inspection and tuning calls work on the tenant's own
// domains and look like a missing domain on others.
TEST_F(RelayVirshTest, TuningAndInspectionOnOwnDomainsOnly) {
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"schedinfo"},
                                             {"memtune"},
                                             {"blkiotune"},
                                             {"numatune"},
                                             {"vcpucount"},
                                             {"domfsinfo"}}) {
    std::vector<std::string> own = cmd;
    own.push_back("red-vm1");
    CommandResult r = Red(own);
    EXPECT_EQ(r.exit_status, 0) << cmd[0] << ": " << r.err;
    CommandResult foreign = Blue(own);
    EXPECT_EQ(foreign.exit_status, 1) << cmd[0];
    EXPECT_EQ(foreign.err, "error: failed to get domain 'red-vm1'\n") << cmd[0];
  }
}

}  // namespace
}  // namespace tvd::libvirt_filter::testing
