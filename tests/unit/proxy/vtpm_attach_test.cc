// A VM with <tvd:vtpm/> (issue 16): the proxy makes its vTPM state with the
// key the master released, hands libvirt the key as an ephemeral private
// secret of usage type vtpm, records the vTPM's EK and AK at the master and
// only then starts the VM with the one <tpm> shape it writes itself; detach
// and leave wipe the state and the secret; every failure on the way leaves
// nothing. Fakes for the master, libvirt and the vTPM states.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "tvd/policy/values.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/proxy/vm_admission.h"
#include "tvd/sha256.h"
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

constexpr char kOtherUuid[] = "6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60";

class VtpmAttachTest : public ::testing::Test {
 protected:
  VtpmAttachTest()
      : web_(MakeVm(dir_.path(), "web", "blue", "blue-data", "tvdp-web",
                    /*encrypted=*/false, "", /*vtpm=*/true)),
        master_(MakePolicy("blue", 1, {web_})) {}

  std::unique_ptr<TvdProxy> NewProxy(VtpmStates* vtpms) {
    return std::make_unique<TvdProxy>(
        ProxyConfig{.tvd = "blue",
                    .local_host = "host-a",
                    .local_address = "198.18.0.1"},
        master_, hypervisor_, network_, cache_, admissions_, clock_, vtpms);
  }

  // Nothing of web's vTPM is left: no state, no secret, no domain, no port.
  void ExpectNoVtpmLeft() {
    EXPECT_TRUE(vtpms_.states.empty());
    EXPECT_TRUE(hypervisor_.secrets.empty());
    EXPECT_FALSE(hypervisor_.domains.contains("web"));
    EXPECT_TRUE(network_.ports.empty());
  }

  TempDir dir_;
  TestVm web_;
  FakeMaster master_;
  FakeHypervisor hypervisor_;
  FakeNetwork network_;
  MeasurementCache cache_;
  FakeAdmissionStore admissions_;
  FakeVtpmStates vtpms_;
  std::shared_ptr<tvd::testing::FakeClock> clock_ =
      std::make_shared<tvd::testing::FakeClock>();
};

TEST_F(VtpmAttachTest, TheVtpmIsMadeRecordedAndGivenToLibvirtBeforeTheStart) {
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  auto r = proxy->Attach(web_.config_path);
  ASSERT_TRUE(r.ok()) << r.status();
  // The state is named by the domain's UUID (a new one: the configuration
  // has none), encrypted with the released key as a hex passphrase.
  ASSERT_EQ(vtpms_.states.size(), 1u);
  const std::string uuid = vtpms_.states.begin()->first;
  const std::vector<std::uint8_t> passphrase = vtpms_.states.begin()->second;
  EXPECT_TRUE(policy::IsUuid(uuid)) << uuid;
  EXPECT_EQ(passphrase,
            std::vector<std::uint8_t>(64, static_cast<std::uint8_t>('3')));
  EXPECT_EQ(master_.vtpm_key_requests, std::vector<std::string>{"blue/web"});
  // libvirt holds the same passphrase as an ephemeral vtpm secret.
  ASSERT_EQ(hypervisor_.secrets.size(), 1u);
  const std::string secret_uuid = hypervisor_.secrets.begin()->first;
  const FakeHypervisor::Secret secret = hypervisor_.secrets.begin()->second;
  EXPECT_EQ(secret.usage, "tvd/blue/web/#vtpm");
  EXPECT_TRUE(secret.vtpm);
  EXPECT_EQ(secret.value, passphrase);
  // The master has the vTPM's keys.
  ASSERT_EQ(master_.vtpm_records.size(), 1u);
  EXPECT_EQ(master_.vtpm_records[0],
            (protocol::VtpmRecord{"blue", "web", vtpms_.publics.ek_public,
                                  vtpms_.publics.ak_public}));
  // The domain: that UUID, the proxy's one <tpm> shape, that secret.
  ASSERT_TRUE(hypervisor_.domains.contains("web"));
  EXPECT_EQ(hypervisor_.domains["web"].uuid, uuid);
  const std::string& xml = hypervisor_.domains["web"].xml;
  EXPECT_NE(xml.find("<uuid>" + uuid + "</uuid>"), std::string::npos) << xml;
  const std::size_t tpm = xml.find("<tpm model=\"tpm-crb\">");
  const std::size_t backend =
      xml.find("<backend type=\"emulator\" version=\"2.0\">");
  const std::size_t encryption =
      xml.find("<encryption secret=\"" + secret_uuid + "\"/>");
  ASSERT_NE(tpm, std::string::npos) << xml;
  EXPECT_TRUE(tpm < backend && backend < encryption &&
              encryption < xml.find("</tpm>") && backend != std::string::npos &&
              encryption != std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("<tpm"), xml.rfind("<tpm")) << xml;  // only that one
  // The guest agent's port for deep quotes, its socket libvirt's choice.
  EXPECT_EQ(*HasAttestChannel(xml), true) << xml;
  EXPECT_NE(xml.find("<channel type=\"unix\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<target type=\"virtio\" name=\"org.tvd.attest.0\"/>"),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("org.tvd.attest.0"), xml.rfind("org.tvd.attest.0"));
  EXPECT_EQ((*r)["vtpm"]["uuid"], uuid);
  EXPECT_EQ((*r)["vtpm"]["ek_sha256"], ToHex(Sha256(vtpms_.publics.ek_public)));

  // Detach wipes the state and the secret.
  ASSERT_TRUE(proxy->Detach("web").ok());
  ExpectNoVtpmLeft();
  EXPECT_EQ(vtpms_.removed.back(), uuid);
}

TEST_F(VtpmAttachTest, LeaveWipesTheVtpm) {
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  ASSERT_TRUE(proxy->Attach(web_.config_path).ok());
  ASSERT_EQ(vtpms_.states.size(), 1u);
  const std::string uuid = vtpms_.states.begin()->first;
  ASSERT_TRUE(proxy->Leave().ok());
  ExpectNoVtpmLeft();
  EXPECT_NE(std::find(vtpms_.removed.begin(), vtpms_.removed.end(), uuid),
            vtpms_.removed.end());
  EXPECT_EQ(master_.leaves, std::vector<std::string>{"blue"});
}

TEST_F(VtpmAttachTest, AStateThatCannotBeWipedFailsTheDetach) {
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  ASSERT_TRUE(proxy->Attach(web_.config_path).ok());
  vtpms_.remove_error = IoError("vTPM state /x is still there after removal");
  EXPECT_EQ(proxy->Detach("web"),
            IoError("vTPM state /x is still there after removal"));
  // The VM itself is gone all the same.
  EXPECT_FALSE(hypervisor_.domains.contains("web"));
  EXPECT_TRUE(hypervisor_.secrets.empty());
}

TEST_F(VtpmAttachTest, APolicyWithoutAVtpmForTheVmRefusesIt) {
  TestVm plain = web_;
  plain.vtpm = false;
  master_.policy_ = MakePolicy("blue", 1, {plain});
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            PermissionDenied("VM 'web': asks for a vTPM but TVD 'blue' gives "
                             "this VM none"));
  ExpectNoVtpmLeft();
  EXPECT_TRUE(master_.vtpm_key_requests.empty());
}

TEST_F(VtpmAttachTest, ARefusedKeyLeavesNothing) {
  master_.vtpm_key_error = PermissionDenied(
      "peer: host host-a has no attested member channel for "
      "TVD blue");
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            PermissionDenied("VM 'web': vTPM: peer: host host-a has no "
                             "attested member channel for TVD blue"));
  ExpectNoVtpmLeft();
  EXPECT_TRUE(master_.vtpm_records.empty());
}

TEST_F(VtpmAttachTest, AStateThatCannotBeMadeLeavesNothing) {
  vtpms_.create_error = Unavailable("swtpm did not come up on port 20000");
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            Unavailable("VM 'web': vTPM: swtpm did not come up on port 20000"));
  ExpectNoVtpmLeft();
  EXPECT_TRUE(master_.vtpm_records.empty());
}

// The VM does not start with a vTPM the master does not know.
TEST_F(VtpmAttachTest, ARefusedRecordLeavesNothing) {
  master_.record_vtpm_error = PermissionDenied(
      "peer: VM web of TVD blue runs on host host-b, not on host-a");
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            PermissionDenied("VM 'web': vTPM: recording it at the master: "
                             "peer: VM web of TVD blue runs on host host-b, "
                             "not on host-a"));
  ExpectNoVtpmLeft();
  EXPECT_FALSE(vtpms_.removed.empty());
}

TEST_F(VtpmAttachTest, AFailedStartLeavesNothing) {
  hypervisor_.start_error =
      FailedPrecondition("libvirt could not start the domain: no swtpm");
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            FailedPrecondition("VM 'web': starting: libvirt could not start "
                               "the domain: no swtpm"));
  ExpectNoVtpmLeft();
}

// A configuration naming another domain's UUID would have the proxy make
// (or wipe) that domain's vTPM state: refused, the other state untouched.
TEST_F(VtpmAttachTest, AnotherDomainsUuidIsRefusedAndItsStateKept) {
  TestVm thief = MakeVm(dir_.path(), "thief", "blue", "blue-data", "tvdp-th",
                        /*encrypted=*/false, "", /*vtpm=*/true, kOtherUuid);
  master_.policy_ = MakePolicy("blue", 1, {web_, thief});
  hypervisor_.domains["other"] = {"<domain/>", kOtherUuid, true, "red"};
  vtpms_.states[kOtherUuid] = {1, 2, 3};
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(
      proxy->Attach(thief.config_path).status(),
      AlreadyExists("VM 'thief': vTPM: domain with UUID '" +
                    std::string(kOtherUuid) + "' already exists as 'other'"));
  EXPECT_EQ(vtpms_.states[kOtherUuid], (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_TRUE(vtpms_.removed.empty());
  EXPECT_TRUE(master_.vtpm_key_requests.empty());
}

// With its own <uuid>, the state is named by it; a stale state of that UUID
// (an attach that died) is replaced.
TEST_F(VtpmAttachTest, TheConfigurationsUuidNamesTheStateAndAStaleOneGoes) {
  const std::string uuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  TestVm app = MakeVm(dir_.path(), "app", "blue", "blue-data", "tvdp-app",
                      /*encrypted=*/false, "", /*vtpm=*/true,
                      "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D");
  master_.policy_ = MakePolicy("blue", 1, {app});
  vtpms_.states[uuid] = {9};
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  auto r = proxy->Attach(app.config_path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(vtpms_.states.size(), 1u);
  EXPECT_EQ(vtpms_.states.begin()->first, uuid);
  EXPECT_EQ(vtpms_.states[uuid].size(), 64u);
  EXPECT_EQ((*r)["vtpm"]["uuid"], uuid);
}

// A TVD VM gets a TPM only through <tvd:vtpm/>: a <tpm> of its own (here a
// passthrough of the host's) is refused before anything is asked for.
// web's final configuration with `device` added to its <devices> and its
// config measure recomputed (so only the proxy's own checks can refuse it).
void AddDevice(const std::string& config_path, const std::string& device) {
  std::ifstream in(config_path);
  std::string xml((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  xml.replace(xml.find("  </devices>"), 0, device);
  const std::size_t config = xml.find("<tvd:measure type='config'");
  ASSERT_NE(config, std::string::npos);
  const std::size_t end = xml.find('\n', config);
  std::string without = xml;
  without.erase(config, end - config);
  auto parsed =
      policy::ParseVmConfig(without, "web.xml", policy::VmConfigMode::kFinal);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  xml.replace(config, end - config,
              "<tvd:measure type='config' sha256='" +
                  ToHex(parsed->ConfigDigest()) + "'/>");
  testing::WriteFile(config_path, xml);
}

TEST_F(VtpmAttachTest, ADomainWithItsOwnTpmIsRefused) {
  AddDevice(web_.config_path,
            "    <tpm model='tpm-tis'><backend type='passthrough'><device "
            "path='/dev/tpm0'/></backend></tpm>\n");
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            PermissionDenied("VM 'web': the domain has a <tpm> device of its "
                             "own; a TVD VM gets a vTPM only from "
                             "<tvd:vtpm/>, which the proxy turns into one"));
  ExpectNoVtpmLeft();
  EXPECT_TRUE(master_.vtpm_key_requests.empty());
}

// The socket behind the attestation port is where the proxy asks the
// guest for quotes: a configuration that brings its own (a path of its
// choosing) is refused, with or without a vTPM.
TEST_F(VtpmAttachTest, ADomainWithItsOwnAttestationChannelIsRefused) {
  AddDevice(web_.config_path,
            "    <channel type='unix'><source mode='bind' "
            "path='/run/other.sock'/><target type='virtio' "
            "name='org.tvd.attest.0'/></channel>\n");
  auto proxy = NewProxy(&vtpms_);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            PermissionDenied("VM 'web': the domain has a channel to port "
                             "org.tvd.attest.0 of its own; the proxy adds "
                             "that channel with the vTPM"));
  ExpectNoVtpmLeft();
  EXPECT_TRUE(master_.vtpm_key_requests.empty());
}

TEST_F(VtpmAttachTest, AProxyWithoutVtpmStorageRefusesAVtpm) {
  auto proxy = NewProxy(nullptr);
  ASSERT_TRUE(proxy->Join().ok());
  EXPECT_EQ(proxy->Attach(web_.config_path).status(),
            FailedPrecondition("VM 'web': vTPM: this host's proxy has no vTPM "
                               "storage configured (tvd-proxy "
                               "--vtpm-storage-dir)"));
  ExpectNoVtpmLeft();
}

}  // namespace
}  // namespace tvd::proxy
