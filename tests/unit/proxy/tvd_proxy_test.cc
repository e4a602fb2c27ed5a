#include "tvd/proxy/tvd_proxy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "tvd/policy/values.h"
#include "tvd/protocol/tunnel_key.h"
#include "tvd/proxy/tap_name.h"
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
using testing::WriteFile;

// The tap the proxy names for web's only NIC.
std::string WebTap() { return TapName("blue", 1, "web", 0); }

class TvdProxyTest : public ::testing::Test {
 protected:
  TvdProxyTest()
      : web_(MakeVm(dir_.path(), "web", "blue", "blue-data", "tvdp-web")),
        db_(MakeVm(dir_.path(), "db", "blue", "blue-data", "tvdp-db",
                   /*encrypted=*/true)),
        master_(MakePolicy("blue", 1, {web_, db_})),
        proxy_(std::make_unique<TvdProxy>(
            ProxyConfig{.tvd = "blue",
                        .local_host = "host-a",
                        .local_address = "198.18.0.1"},
            master_, hypervisor_, network_, cache_, admissions_, clock_)) {
    master_.members = {{"host-b", "198.18.0.2"}};
  }

  // Nothing of TVD blue is left on the host.
  void ExpectNothingLeft() {
    EXPECT_TRUE(hypervisor_.domains.empty());
    EXPECT_TRUE(hypervisor_.secrets.empty());
    EXPECT_TRUE(network_.ports.empty());
    EXPECT_FALSE(network_.joined.contains("blue"));
  }

  TempDir dir_;
  TestVm web_;
  TestVm db_;
  FakeMaster master_;
  FakeHypervisor hypervisor_;
  FakeNetwork network_;
  MeasurementCache cache_;
  FakeAdmissionStore admissions_;
  std::shared_ptr<tvd::testing::FakeClock> clock_ =
      std::make_shared<tvd::testing::FakeClock>();
  std::unique_ptr<TvdProxy> proxy_;
};

TEST_F(TvdProxyTest, JoinProgramsNetworksAndTunnelsWithDerivedPsk) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(network_.joined.contains("blue"));
  const vswitch::TvdSpec& spec = network_.joined["blue"];
  EXPECT_EQ(spec.tvd_id, 1u);
  ASSERT_EQ(spec.networks.size(), 1u);
  EXPECT_EQ(spec.networks[0].name, "blue-data");
  EXPECT_EQ(spec.networks[0].vni, 1001u);
  ASSERT_EQ(spec.peers.size(), 1u);
  EXPECT_EQ(spec.peers[0].address, "198.18.0.2");
  EXPECT_EQ(spec.esp_proposals, std::vector<std::string>{"aes256gcm16-ecp256"});
  auto expected = protocol::DeriveTunnelPsk(
      SecureBytes(std::span<const std::uint8_t>(master_.key_)), "blue",
      "host-b", "host-a", 7);
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(expected->Equals(network_.psks["host-b"]));
  EXPECT_TRUE(proxy_->StatusJson()["joined"].get<bool>());
}

TEST_F(TvdProxyTest, SecondJoinIsRefused) {
  ASSERT_TRUE(proxy_->Join().ok());
  EXPECT_EQ(proxy_->Join(),
            AlreadyExists("this host is already a member of TVD 'blue'"));
  EXPECT_EQ(master_.joins, 1);
}

TEST_F(TvdProxyTest, RefusedJoinLeavesNothing) {
  master_.join_error = PermissionDenied("host 'host-a' is not authorized");
  Status s = proxy_->Join();
  EXPECT_EQ(s, PermissionDenied("joining TVD 'blue': host 'host-a' is not "
                                "authorized"));
  EXPECT_FALSE(proxy_->joined());
  EXPECT_TRUE(network_.joined.empty());
}

TEST_F(TvdProxyTest, NetworkFailureOnJoinUndoesTheJoin) {
  network_.join_error = Unavailable("ovsdb down");
  EXPECT_EQ(proxy_->Join().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(proxy_->joined());
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
}

TEST_F(TvdProxyTest, AttachBeforeJoinIsRefused) {
  auto r = proxy_->Attach(web_.config_path);
  EXPECT_EQ(r.status(),
            FailedPrecondition("not a member of TVD 'blue'; join it first"));
  EXPECT_TRUE(hypervisor_.domains.empty());
}

TEST_F(TvdProxyTest, AttachMeasuresPlugsAndStarts) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["vm"], "web");
  ASSERT_TRUE(hypervisor_.domains.contains("web"));
  EXPECT_EQ(hypervisor_.domains["web"].owner, "blue");
  ASSERT_TRUE(network_.ports.contains(WebTap()));
  const vswitch::VmPortSpec& port = network_.ports[WebTap()];
  EXPECT_EQ(port.tvd, "blue");
  EXPECT_EQ(port.network, "blue-data");
  EXPECT_EQ(port.vm, "web");
  EXPECT_EQ(port.mac, "52:54:00:00:00:01");
  EXPECT_TRUE(hypervisor_.secrets.empty());  // web has no encrypted disk
  EXPECT_EQ(cache_.misses(), 3u);            // kernel, initrd, disk
  // Attaching the same VM again is refused and changes nothing.
  auto again = proxy_->Attach(web_.config_path);
  EXPECT_EQ(again.status(),
            AlreadyExists("VM 'web' is already attached to TVD 'blue'"));
  EXPECT_EQ(hypervisor_.domains.size(), 1u);
}

TEST_F(TvdProxyTest, WrongKernelIsRefusedWithTheExactReason) {
  ASSERT_TRUE(proxy_->Join().ok());
  const std::string good = ToHex(*Sha256File(web_.kernel));
  WriteFile(web_.kernel, "a kernel with a backdoor");
  const std::string bad = ToHex(Sha256("a kernel with a backdoor"));
  auto r = proxy_->Attach(web_.config_path);
  EXPECT_EQ(r.status(), PermissionDenied("VM 'web': measured kernel (" +
                                         web_.kernel + ") has sha256 " + bad +
                                         " but TVD 'blue' expects " + good));
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_TRUE(hypervisor_.secrets.empty());
}

TEST_F(TvdProxyTest, WrongDiskIsRefusedWithTheExactReason) {
  ASSERT_TRUE(proxy_->Join().ok());
  const std::string good = ToHex(*Sha256File(web_.disk));
  WriteFile(web_.disk, "tampered");
  auto r = proxy_->Attach(web_.config_path);
  EXPECT_EQ(r.status(),
            PermissionDenied("VM 'web': measured disk 'vda' (" + web_.disk +
                             ") has sha256 " + ToHex(Sha256("tampered")) +
                             " but TVD 'blue' expects " + good));
  EXPECT_TRUE(hypervisor_.domains.empty());
}

TEST_F(TvdProxyTest, VmUnknownToThePolicyIsRefused) {
  TestVm other = MakeVm(dir_.path(), "stranger", "blue", "blue-data", "tvdp-s");
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(other.config_path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("stranger"), std::string::npos);
  EXPECT_TRUE(hypervisor_.domains.empty());
}

TEST_F(TvdProxyTest, VmOfAnotherTvdIsRefused) {
  TestVm red = MakeVm(dir_.path(), "web", "red", "red-data", "tvdp-r");
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(red.config_path);
  EXPECT_EQ(r.status(),
            PermissionDenied("VM 'web' belongs to TVD 'red', not 'blue'; "
                             "attach it through TVD 'red'"));
}

TEST_F(TvdProxyTest, MalformedConfigIsRefusedAndChangesNothing) {
  ASSERT_TRUE(proxy_->Join().ok());
  const std::string path = dir_.path() + "/broken.xml";
  WriteFile(path, "<domain type='test'><name>x</name>");
  auto r = proxy_->Attach(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(path), std::string::npos);
  auto missing = proxy_->Attach(dir_.path() + "/nope.xml");
  EXPECT_EQ(missing.status(), IoError("cannot open VM configuration " +
                                      dir_.path() + "/nope.xml"));
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(network_.ports.empty());
}

// A proxy that died between defining a VM's disk secret and recording the
// VM leaves the secret behind; libvirt refuses a second secret for that
// usage, so the next attach of the VM replaces it instead of failing for
// good.
TEST_F(TvdProxyTest, AStaleSecretOfAVmNotAttachedIsReplaced) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto stale = hypervisor_.DefineSecret(
      "tvd/blue/db/vda", SecureBytes(std::span<const std::uint8_t>(
                             std::vector<std::uint8_t>(64, 'x'))));
  ASSERT_TRUE(stale.ok());
  auto other = hypervisor_.DefineSecret(
      "tvd/blue/dbx/vda", SecureBytes(std::span<const std::uint8_t>(
                              std::vector<std::uint8_t>(64, 'y'))));
  ASSERT_TRUE(other.ok());
  auto r = proxy_->Attach(db_.config_path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(hypervisor_.secrets.size(), 2u);
  EXPECT_FALSE(hypervisor_.secrets.contains(*stale));
  EXPECT_TRUE(hypervisor_.secrets.contains(*other));
  auto now = hypervisor_.ListSecrets("tvd/blue/db/");
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ(hypervisor_.secrets[(*now)[0]].value,
            std::vector<std::uint8_t>(64, static_cast<std::uint8_t>('1')));
}

TEST_F(TvdProxyTest, EncryptedDiskGetsAnEphemeralSecretRemovedOnDetach) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(db_.config_path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(hypervisor_.secrets.size(), 1u);
  const auto& [uuid, secret] = *hypervisor_.secrets.begin();
  EXPECT_EQ(secret.usage, "tvd/blue/db/vda");
  // The passphrase QEMU gets is the key in lowercase hex (0x11 bytes).
  EXPECT_EQ(secret.value,
            std::vector<std::uint8_t>(64, static_cast<std::uint8_t>('1')));
  EXPECT_EQ(master_.disk_key_requests, std::vector<std::string>{"blue/db"});
  const std::string& xml = hypervisor_.domains["db"].xml;
  EXPECT_NE(xml.find("<encryption format=\"luks\">"), std::string::npos);
  EXPECT_NE(xml.find("uuid=\"" + uuid + "\""), std::string::npos);

  ASSERT_TRUE(proxy_->Detach("db").ok());
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_EQ(proxy_->Detach("db"),
            NotFound("VM 'db' is not attached to TVD 'blue' on this host "
                     "(see 'tvdctl status')"));
}

TEST_F(TvdProxyTest, MissingEncryptedDiskWithACreateSizeIsCreated) {
  const std::string disk = dir_.path() + "/store-data.qcow2";
  TestVm store = MakeVm(dir_.path(), "store", "blue", "blue-data", "tvdp-st",
                        /*encrypted=*/false, disk);
  master_.policy_ = MakePolicy("blue", 1, {web_, db_, store});
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(store.config_path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(hypervisor_.created_disks.size(), 1u);
  EXPECT_EQ(hypervisor_.created_disks[0].path, disk);
  EXPECT_EQ(hypervisor_.created_disks[0].size_mib, 8u);
  // Created under the same passphrase the secret carries.
  EXPECT_EQ(hypervisor_.created_disks[0].passphrase,
            std::vector<std::uint8_t>(64, static_cast<std::uint8_t>('1')));
  ASSERT_EQ(hypervisor_.secrets.size(), 1u);
  EXPECT_EQ(hypervisor_.secrets.begin()->second.usage, "tvd/blue/store/vdb");

  // A second attach (after detach) opens the disk that is now there.
  ASSERT_TRUE(proxy_->Detach("store").ok());
  ASSERT_TRUE(proxy_->Attach(store.config_path).ok());
  EXPECT_EQ(hypervisor_.created_disks.size(), 1u);
}

TEST_F(TvdProxyTest, MissingEncryptedDiskWithoutACreateSizeIsRefused) {
  ::unlink(db_.disk.c_str());
  // db's vda is measured as well; the measurement finds it missing first.
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(db_.config_path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(master_.disk_key_requests.empty());
  EXPECT_TRUE(hypervisor_.created_disks.empty());

  // An unmeasured encrypted disk that is missing and has no create size.
  const std::string disk = dir_.path() + "/gone.qcow2";
  TestVm store = MakeVm(dir_.path(), "store", "blue", "blue-data", "tvdp-st",
                        /*encrypted=*/false, disk);
  std::ifstream in(store.config_path);
  std::string xml((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  xml.replace(xml.find(" create-mib='8'"), 15, "");
  WriteFile(store.config_path, xml);
  master_.policy_ = MakePolicy("blue", 1, {web_, db_, store});
  ASSERT_TRUE(proxy_->Leave().ok());
  ASSERT_TRUE(proxy_->Join().ok());
  r = proxy_->Attach(store.config_path);
  EXPECT_EQ(r.status(),
            FailedPrecondition(
                "VM 'store': encrypted disk 'vdb' (" + disk +
                ") does not exist; restore it, or give its <tvd:encryption> "
                "a create-mib size to have the proxy create an empty one"));
  EXPECT_TRUE(master_.disk_key_requests.empty());
  EXPECT_TRUE(hypervisor_.created_disks.empty());
  EXPECT_TRUE(hypervisor_.domains.empty());
}

TEST_F(TvdProxyTest, CreatedDiskIsRemovedWhenTheAttachFails) {
  const std::string disk = dir_.path() + "/store-data.qcow2";
  TestVm store = MakeVm(dir_.path(), "store", "blue", "blue-data", "tvdp-st",
                        /*encrypted=*/false, disk);
  master_.policy_ = MakePolicy("blue", 1, {web_, db_, store});
  ASSERT_TRUE(proxy_->Join().ok());
  hypervisor_.start_error = FailedPrecondition("no room");
  auto r = proxy_->Attach(store.config_path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(hypervisor_.created_disks.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(disk));
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(hypervisor_.domains.empty());

  // A failing creation leaves no secret and no domain either.
  hypervisor_.start_error = Status::Ok();
  hypervisor_.create_disk_error = FailedPrecondition("qemu-img: no space");
  r = proxy_->Attach(store.config_path);
  EXPECT_EQ(r.status(), FailedPrecondition("qemu-img: no space")
                            .WithContext("VM 'store': creating disk 'vdb'"));
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(hypervisor_.domains.empty());
}

TEST_F(TvdProxyTest, RefusedDiskKeyLeavesNothing) {
  // The policy no longer releases a disk key to db.
  master_.policy_.disk_key_vms.clear();
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(db_.config_path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(hypervisor_.secrets.empty());
}

TEST_F(TvdProxyTest, PlugFailureRollsBackDomainAndSecret) {
  ASSERT_TRUE(proxy_->Join().ok());
  network_.plug_error = FailedPrecondition("port already bound elsewhere");
  auto r = proxy_->Attach(db_.config_path);
  EXPECT_EQ(r.status(), FailedPrecondition("VM 'db': plugging '" +
                                           TapName("blue", 1, "db", 0) +
                                           "': port already bound elsewhere"));
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(network_.ports.empty());
}

TEST_F(TvdProxyTest, StartFailureRollsBackSecret) {
  ASSERT_TRUE(proxy_->Join().ok());
  hypervisor_.start_error = FailedPrecondition("no such emulator");
  auto r = proxy_->Attach(db_.config_path);
  EXPECT_EQ(r.status(),
            FailedPrecondition("VM 'db': starting: no such emulator"));
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(network_.ports.empty());
}

TEST_F(TvdProxyTest, LeaveLeavesNothingAndTellsTheMaster) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  ASSERT_TRUE(proxy_->Attach(db_.config_path).ok());
  // A domain of another TVD on the same host is not touched.
  hypervisor_.domains["other"] = {"<domain/>", "u-other", true, "red"};
  ASSERT_TRUE(proxy_->Leave().ok());
  EXPECT_EQ(hypervisor_.domains.size(), 1u);
  EXPECT_TRUE(hypervisor_.domains.contains("other"));
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_FALSE(network_.joined.contains("blue"));
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
  EXPECT_FALSE(proxy_->joined());
  EXPECT_TRUE(proxy_->left());
  auto status = proxy_->StatusJson();
  EXPECT_FALSE(status["joined"].get<bool>());
  EXPECT_FALSE(status.contains("policy_digest"));
  EXPECT_EQ(proxy_->Attach(web_.config_path).status().code(),
            ErrorCode::kFailedPrecondition);
}

TEST_F(TvdProxyTest, RestartedProxyAdoptsRunningVms) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  // The process dies: memory is gone, the host state stays.
  proxy_.reset();
  network_.ports.clear();  // e.g. ovs-vswitchd restarted meanwhile
  TvdProxy restarted(
      {.tvd = "blue", .local_host = "host-a", .local_address = "198.18.0.1"},
      master_, hypervisor_, network_, cache_, admissions_, clock_);
  ASSERT_TRUE(restarted.Join().ok());
  EXPECT_TRUE(network_.ports.contains(WebTap()));
  EXPECT_EQ(network_.ports[WebTap()].mac, "52:54:00:00:00:01");
  auto status = restarted.StatusJson();
  ASSERT_EQ(status["vms"].size(), 1u);
  EXPECT_EQ(status["vms"][0]["name"], "web");
  ASSERT_TRUE(restarted.Leave().ok());
  ExpectNothingLeft();
}

// A restart is a new TvdProxy over the same host state and store.
std::unique_ptr<TvdProxy> Restart(std::unique_ptr<TvdProxy>& proxy,
                                  FakeMaster& master, FakeHypervisor& hv,
                                  FakeNetwork& net, MeasurementCache& cache,
                                  FakeAdmissionStore& store) {
  proxy.reset();
  return std::make_unique<TvdProxy>(
      ProxyConfig{
          .tvd = "blue", .local_host = "host-a", .local_address = "198.18.0.1"},
      master, hv, net, cache, store,
      std::make_shared<tvd::testing::FakeClock>());
}

TEST_F(TvdProxyTest, AttachRecordsTheAdmissionAndNamesTheTap) {
  ASSERT_TRUE(proxy_->Join().ok());
  auto r = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string tap = WebTap();
  EXPECT_EQ(tap.size(), 15u);
  EXPECT_TRUE(tap.starts_with("tvd"));
  EXPECT_EQ((*r)["ports"], nlohmann::json::array({tap}));
  EXPECT_EQ(
      (*r)["nics"],
      nlohmann::json::array(
          {{{"target", "tvdp-web"}, {"port", tap}, {"network", "blue-data"}}}));
  // libvirt gets the proxy's tap name; the configuration's NIC name is
  // gone from the domain.
  const std::string& xml = hypervisor_.domains["web"].xml;
  EXPECT_NE(xml.find("<target dev=\"" + tap + "\"/>"), std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("dev=\"tvdp-web\""), std::string::npos) << xml;
  auto config =
      policy::LoadVmConfigFile(web_.config_path, policy::VmConfigMode::kFinal);
  ASSERT_TRUE(config.ok());
  AdmissionRecord expected;
  expected.tvd = "blue";
  expected.vms["web"] = {"web",
                         hypervisor_.domains["web"].uuid,
                         ToHex(config->ConfigDigest()),
                         {{tap, "blue-data", "52:54:00:00:00:01"}}};
  EXPECT_EQ(admissions_.record, expected);
  // Detach takes it out of the record.
  ASSERT_TRUE(proxy_->Detach("web").ok());
  EXPECT_TRUE(admissions_.record.vms.empty());
}

TEST_F(TvdProxyTest, TapNamesAreStableAndDistinct) {
  EXPECT_EQ(TapName("blue", 1, "web", 0), TapName("blue", 1, "web", 0));
  std::set<std::string> names = {
      TapName("blue", 1, "web", 0), TapName("blue", 1, "web", 1),
      TapName("blue", 1, "db", 0),  TapName("blue", 2, "web", 0),
      TapName("red", 1, "web", 0),  TapName("blue", 1, "web0", 0)};
  EXPECT_EQ(names.size(), 6u);
  for (const std::string& n : names) {
    EXPECT_TRUE(policy::IsInterfaceName(n)) << n;
    EXPECT_EQ(n.size(), 15u);
  }
}

TEST_F(TvdProxyTest, ConfigNamingAnExistingHostLinkIsRefused) {
  TestVm up = MakeVm(dir_.path(), "up", "blue", "blue-data", "eth0");
  master_.policy_.vms.push_back(up.known_good);
  ASSERT_TRUE(proxy_->Join().ok());
  network_.host_links = {"eth0"};
  auto r = proxy_->Attach(up.config_path);
  EXPECT_EQ(r.status(),
            PermissionDenied("VM 'up': interface target 'eth0' names an "
                             "existing host link; the proxy names VM taps "
                             "itself, so a VM configuration must not name a "
                             "device of the host"));
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_TRUE(admissions_.record.vms.empty());
  EXPECT_TRUE(master_.disk_key_requests.empty());
}

TEST_F(TvdProxyTest, ConfigNamingTheVmsOwnTapIsAccepted) {
  const std::string tap = TapName("blue", 1, "own", 0);
  TestVm own = MakeVm(dir_.path(), "own", "blue", "blue-data", tap);
  master_.policy_.vms.push_back(own.known_good);
  ASSERT_TRUE(proxy_->Join().ok());
  network_.host_links = {tap};  // left from an earlier run of the VM
  auto r = proxy_->Attach(own.config_path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(network_.ports.contains(tap));
}

TEST_F(TvdProxyTest, FailedRecordingUndoesTheAttach) {
  ASSERT_TRUE(proxy_->Join().ok());
  admissions_.save_error = IoError("disk full");
  auto r = proxy_->Attach(db_.config_path);
  EXPECT_EQ(r.status(), IoError("VM 'db': recording its admission: disk full"));
  EXPECT_TRUE(hypervisor_.domains.empty());
  EXPECT_TRUE(hypervisor_.secrets.empty());
  EXPECT_TRUE(network_.ports.empty());
}

TEST_F(TvdProxyTest, PlugFailureTakesTheVmOutOfTheRecord) {
  ASSERT_TRUE(proxy_->Join().ok());
  network_.plug_error = FailedPrecondition("port already bound elsewhere");
  ASSERT_FALSE(proxy_->Attach(web_.config_path).ok());
  EXPECT_TRUE(admissions_.record.vms.empty());
}

TEST_F(TvdProxyTest, TenantDefinedDomainGetsNoPortAfterRestart) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  // Through the relay, a tenant defines a domain of its TVD whose NIC names
  // the host's uplink; the proxy never measured it.
  std::string rogue = hypervisor_.domains["web"].xml;
  rogue.replace(rogue.find("<name>web</name>"), 16, "<name>rogue</name>");
  rogue.replace(rogue.find(WebTap()), WebTap().size(), "eth0");
  hypervisor_.domains["rogue"] = {rogue, hypervisor_.NextUuid(), true, "blue"};
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  network_.ports.clear();  // ovs-vswitchd restarted meanwhile
  ASSERT_TRUE(proxy_->Join().ok());
  EXPECT_EQ(network_.ports.size(), 1u);
  EXPECT_TRUE(network_.ports.contains(WebTap()));
  EXPECT_FALSE(network_.ports.contains("eth0"));
  auto status = proxy_->StatusJson();
  ASSERT_EQ(status["vms"].size(), 1u) << status.dump();
  EXPECT_EQ(status["vms"][0]["name"], "web");
  // Leave still destroys every domain of the TVD.
  ASSERT_TRUE(proxy_->Leave().ok());
  ExpectNothingLeft();
  EXPECT_EQ(admissions_.removes, 1);
}

TEST_F(TvdProxyTest, AdmittedVmIsReplugFromTheRecordNotItsCurrentXml) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  // The domain's XML now names another device, MAC and network.
  std::string& xml = hypervisor_.domains["web"].xml;
  xml.replace(xml.find(WebTap()), WebTap().size(), "eth0");
  xml.replace(xml.find("52:54:00:00:00:01"), 17, "52:54:00:66:66:66");
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  network_.ports.clear();
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_EQ(network_.ports.size(), 1u);
  ASSERT_TRUE(network_.ports.contains(WebTap()));
  const vswitch::VmPortSpec& port = network_.ports[WebTap()];
  EXPECT_EQ(port.mac, "52:54:00:00:00:01");
  EXPECT_EQ(port.network, "blue-data");
  EXPECT_EQ(port.vm, "web");
}

TEST_F(TvdProxyTest, RecordedVmWhoseUuidChangedIsDroppedAndNotPlugged) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  ASSERT_TRUE(proxy_->Attach(db_.config_path).ok());
  // While the proxy is down, "web" is undefined and a domain of the same
  // name defined again (another UUID); "db" is gone altogether.
  hypervisor_.domains["web"].uuid = hypervisor_.NextUuid();
  hypervisor_.domains.erase("db");
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  ASSERT_TRUE(proxy_->Join().ok());
  // The ports plugged before the restart are unplugged, none is re-plugged.
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_TRUE(admissions_.record.vms.empty());
  EXPECT_TRUE(proxy_->StatusJson()["vms"].empty());
  EXPECT_EQ(proxy_->Detach("web").code(), ErrorCode::kNotFound);
}

TEST_F(TvdProxyTest, UnreadableRecordStopsTheJoinAndPlugsNothing) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  network_.ports.clear();
  int joins = master_.joins;
  admissions_.load_error =
      InvalidArgument("/var/lib/tvd/proxy/blue/admitted.json: not valid JSON");
  EXPECT_EQ(proxy_->Join(),
            InvalidArgument("reading the admission record of TVD 'blue': "
                            "/var/lib/tvd/proxy/blue/admitted.json: not valid "
                            "JSON"));
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_EQ(master_.joins, joins);  // the master was not even asked
  EXPECT_FALSE(proxy_->joined());
}

TEST_F(TvdProxyTest, StalePortOfTheTvdIsUnpluggedOnJoin) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  // Left on the switch: a port an earlier proxy version plugged for a
  // domain the tenant defined (by the device name it wrote), a port whose
  // VM died between plug and record, and a port of another TVD.
  network_.joined["red"] = {};
  network_.ports["eth0"] = {
      "eth0", "blue", "blue-data", "rogue", "52:54:00:00:00:66", ""};
  network_.ports["tvdcrash0000000"] = {
      "tvdcrash0000000", "blue", "blue-data", "half", "52:54:00:00:00:67", ""};
  network_.ports["tvdred00000000"] = {
      "tvdred00000000", "red", "red-data", "other", "52:54:00:00:00:68", ""};
  ::testing::internal::CaptureStderr();
  Status joined = proxy_->Join();
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(joined.ok()) << joined.ToString();
  EXPECT_EQ(network_.lists, 2);  // one per join
  EXPECT_EQ(network_.unplugged,
            (std::vector<std::string>{"eth0", "tvdcrash0000000"}));
  EXPECT_EQ(network_.ports.size(), 2u);
  EXPECT_TRUE(network_.ports.contains(WebTap()));
  EXPECT_EQ(network_.ports[WebTap()].vm, "web");
  EXPECT_TRUE(network_.ports.contains("tvdred00000000"));
  EXPECT_NE(log.find("TVD 'blue': port eth0 of VM 'rogue' (network "
                     "'blue-data') is not a port of an admitted VM; "
                     "unplugging it"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("TVD 'blue': port tvdcrash0000000 of VM 'half' (network "
                     "'blue-data') is not a port of an admitted VM; "
                     "unplugging it"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("tvdred00000000"), std::string::npos) << log;
  EXPECT_EQ(log.find("port " + WebTap()), std::string::npos) << log;
}

TEST_F(TvdProxyTest, RecordedTapHeldByAnotherVmIsReplacedByTheRecordedPort) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  // The recorded tap name, but the switch says another VM owns it.
  network_.ports[WebTap()].vm = "rogue";
  ASSERT_TRUE(proxy_->Join().ok());
  EXPECT_EQ(network_.unplugged, std::vector<std::string>{WebTap()});
  ASSERT_EQ(network_.ports.size(), 1u);
  EXPECT_EQ(network_.ports[WebTap()].vm, "web");
  EXPECT_EQ(network_.ports[WebTap()].network, "blue-data");
  EXPECT_EQ(network_.ports[WebTap()].mac, "52:54:00:00:00:01");
}

TEST_F(TvdProxyTest, UnlistablePortsFailTheJoinClosed) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  network_.ports["eth0"] = {
      "eth0", "blue", "blue-data", "rogue", "52:54:00:00:00:66", ""};
  network_.list_error = IoError("OVSDB connection closed");
  EXPECT_EQ(proxy_->Join(),
            IoError("removing VM ports of TVD 'blue' that were not admitted: "
                    "OVSDB connection closed"));
  // Undone: the TVD's network with every port of it is gone, nothing was
  // re-plugged, the master was told, the record is kept for the next join.
  EXPECT_FALSE(proxy_->joined());
  EXPECT_FALSE(network_.joined.contains("blue"));
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
  EXPECT_TRUE(admissions_.record.vms.contains("web"));
  EXPECT_TRUE(proxy_->StatusJson()["vms"].empty());
  // Once the switch answers, the next join re-plugs the admitted VM only.
  network_.list_error = Status::Ok();
  network_.ports["eth0"] = {
      "eth0", "blue", "blue-data", "rogue", "52:54:00:00:00:66", ""};
  ASSERT_TRUE(proxy_->Join().ok());
  EXPECT_EQ(network_.ports.size(), 1u);
  EXPECT_TRUE(network_.ports.contains(WebTap()));
}

TEST_F(TvdProxyTest, StalePortThatCannotBeUnpluggedFailsTheJoinClosed) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  proxy_ = Restart(proxy_, master_, hypervisor_, network_, cache_, admissions_);
  network_.ports["eth0"] = {
      "eth0", "blue", "blue-data", "rogue", "52:54:00:00:00:66", ""};
  network_.unplug_error = FailedPrecondition("OVSDB transaction failed");
  EXPECT_EQ(proxy_->Join(),
            FailedPrecondition("removing VM ports of TVD 'blue' that were not "
                               "admitted: unplugging eth0: OVSDB transaction "
                               "failed"));
  EXPECT_FALSE(proxy_->joined());
  // LeaveTvd (the undo) removed every port of the TVD, the stale one too.
  EXPECT_TRUE(network_.ports.empty());
  EXPECT_FALSE(network_.joined.contains("blue"));
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
}

TEST_F(TvdProxyTest, MemberUpdateRetunnelsAndEvictionLeaves) {
  ASSERT_TRUE(proxy_->Join().ok());
  ASSERT_TRUE(proxy_->Attach(web_.config_path).ok());
  // host-c joins; the master rekeys (epoch 8): tunnels use the new key.
  std::vector<std::uint8_t> new_key(32, 0x77);
  MasterUpdate joined;
  joined.kind = MasterUpdate::Kind::kMembers;
  joined.members = {{"host-a", "198.18.0.1"},
                    {"host-b", "198.18.0.2"},
                    {"host-c", "198.18.0.3"}};
  joined.key_epoch = 8;
  joined.key = SecureBytes(std::span<const std::uint8_t>(new_key));
  proxy_->OnMasterUpdate(joined);
  EXPECT_EQ(network_.joined["blue"].peers.size(), 2u);  // not itself
  auto psk_c = protocol::DeriveTunnelPsk(
      SecureBytes(std::span<const std::uint8_t>(new_key)), "blue", "host-a",
      "host-c", 8);
  ASSERT_TRUE(psk_c.ok());
  EXPECT_TRUE(psk_c->Equals(network_.psks["host-c"]));
  EXPECT_EQ(proxy_->StatusJson()["key_epoch"], 8);
  MasterUpdate evicted;
  evicted.kind = MasterUpdate::Kind::kEvicted;
  evicted.reason = "re-attestation failed";
  proxy_->OnMasterUpdate(evicted);
  EXPECT_TRUE(proxy_->left());
  ExpectNothingLeft();
}

// host-c joins, but its end of the tunnel is not there yet.
MasterUpdate HostCJoins() {
  MasterUpdate joined;
  joined.kind = MasterUpdate::Kind::kMembers;
  joined.members = {{"host-a", "198.18.0.1"},
                    {"host-b", "198.18.0.2"},
                    {"host-c", "198.18.0.3"}};
  return joined;
}

TEST_F(TvdProxyTest, FailedTunnelAfterAMemberUpdateIsRetried) {
  ASSERT_TRUE(proxy_->Join().ok());
  clock_->Advance(std::chrono::hours(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());  // nothing pending
  EXPECT_EQ(network_.join_calls, 1);
  network_.join_error = Unavailable("NO_PROPOSAL_CHOSEN");
  proxy_->OnMasterUpdate(HostCJoins());
  EXPECT_EQ(network_.join_calls, 2);
  EXPECT_EQ(network_.joined["blue"].peers.size(), 1u);
  // Not before the retry interval; still failing: still pending.
  clock_->Advance(std::chrono::milliseconds(999));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 2);
  clock_->Advance(std::chrono::milliseconds(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 3);
  network_.join_error = Status::Ok();
  clock_->Advance(std::chrono::seconds(1));
  EXPECT_TRUE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 4);
  EXPECT_EQ(network_.joined["blue"].peers.size(), 2u);
  // Done: nothing pending any more.
  clock_->Advance(std::chrono::hours(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 4);
}

// The interval counts from the last attempt: a failed retry starts it
// again, so a peer that stays away costs one attempt per interval.
TEST_F(TvdProxyTest, AFailedRetryWaitsAWholeIntervalAgain) {
  ASSERT_TRUE(proxy_->Join().ok());
  network_.join_error = Unavailable("NO_PROPOSAL_CHOSEN");
  proxy_->OnMasterUpdate(HostCJoins());
  const auto interval = std::chrono::milliseconds(250);
  clock_->Advance(interval);
  EXPECT_FALSE(proxy_->RetryPendingNetwork(interval));
  EXPECT_EQ(network_.join_calls, 3);
  clock_->Advance(interval - std::chrono::milliseconds(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork(interval));
  EXPECT_EQ(network_.join_calls, 3);
  clock_->Advance(std::chrono::milliseconds(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork(interval));
  EXPECT_EQ(network_.join_calls, 4);
}

// A later update resets the interval too: it is an attempt of its own.
TEST_F(TvdProxyTest, AnotherFailedUpdateRestartsTheInterval) {
  ASSERT_TRUE(proxy_->Join().ok());
  network_.join_error = Unavailable("NO_PROPOSAL_CHOSEN");
  proxy_->OnMasterUpdate(HostCJoins());
  clock_->Advance(std::chrono::milliseconds(600));
  proxy_->OnMasterUpdate(HostCJoins());
  EXPECT_EQ(network_.join_calls, 3);
  clock_->Advance(std::chrono::milliseconds(600));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 3);
  clock_->Advance(std::chrono::milliseconds(400));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 4);
}

// A successful update clears what an earlier failed one left pending.
TEST_F(TvdProxyTest, ASuccessfulUpdateCancelsThePendingRetry) {
  ASSERT_TRUE(proxy_->Join().ok());
  network_.join_error = Unavailable("NO_PROPOSAL_CHOSEN");
  proxy_->OnMasterUpdate(HostCJoins());
  network_.join_error = Status::Ok();
  proxy_->OnMasterUpdate(HostCJoins());
  EXPECT_EQ(network_.joined["blue"].peers.size(), 2u);
  clock_->Advance(std::chrono::hours(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 3);
}

// A policy update whose networks cannot be programmed is retried the same
// way, with the new policy's networks.
TEST_F(TvdProxyTest, FailedPolicyUpdateIsRetriedAfterTheInterval) {
  ASSERT_TRUE(proxy_->Join().ok());
  policy::TvdPolicy next = master_.policy_;
  next.networks.push_back(
      {"blue-backup", policy::NetworkKind::kData, 2001, std::nullopt});
  MasterUpdate update;
  update.kind = MasterUpdate::Kind::kPolicy;
  update.policy = next;
  network_.join_error = Unavailable("ovsdb busy");
  proxy_->OnMasterUpdate(update);
  EXPECT_EQ(network_.joined["blue"].networks.size(), 1u);
  network_.join_error = Status::Ok();
  clock_->Advance(std::chrono::milliseconds(999));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 2);
  clock_->Advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(proxy_->RetryPendingNetwork());
  ASSERT_EQ(network_.joined["blue"].networks.size(), 2u);
  EXPECT_EQ(network_.joined["blue"].networks[1].name, "blue-backup");
  EXPECT_EQ(network_.joined["blue"].networks[1].vni, 2001u);
}

// After a leave nothing is retried, whatever was pending.
TEST_F(TvdProxyTest, NothingIsRetriedAfterLeave) {
  ASSERT_TRUE(proxy_->Join().ok());
  network_.join_error = Unavailable("NO_PROPOSAL_CHOSEN");
  proxy_->OnMasterUpdate(HostCJoins());
  ASSERT_TRUE(proxy_->Leave().ok());
  network_.join_error = Status::Ok();
  clock_->Advance(std::chrono::hours(1));
  EXPECT_FALSE(proxy_->RetryPendingNetwork());
  EXPECT_EQ(network_.join_calls, 2);
}

TEST_F(TvdProxyTest, HandleMapsRequestsAndChecksTheTvd) {
  auto r = proxy_->Handle({host::ControlOp::kJoin, "blue", "", ""});
  EXPECT_TRUE(r.status.ok());
  r = proxy_->Handle({host::ControlOp::kAttach, "red", web_.config_path, ""});
  EXPECT_EQ(r.status,
            InvalidArgument("this proxy serves TVD 'blue', not 'red'"));
  r = proxy_->Handle({host::ControlOp::kAttach, "blue", web_.config_path, ""});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  r = proxy_->Handle({host::ControlOp::kStatus, "blue", "", ""});
  EXPECT_EQ(r.result["vms"].size(), 1u);
  r = proxy_->Handle({host::ControlOp::kLeave, "blue", "", ""});
  EXPECT_TRUE(r.status.ok());
  ExpectNothingLeft();
}

}  // namespace
}  // namespace tvd::proxy
