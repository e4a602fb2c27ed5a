// A host's fail-over between two real tvd-master processes on one SQLite
// state file: the proxy's MasterClientLink (real TLS, a real swtpm behind
// PerCallTpm, as tvd-proxy wires it) is a member through master A; A is
// killed (SIGKILL, by PID); a VM is attached while no master is up; master
// B starts on the same state file on another port, the second entry of the
// list. The link rejoins at B, attests there, and the proxy carries on: no
// leave, nothing torn down on the host (network, port, VM), the new key
// epoch taken as a rekey, and the VM report A never acknowledged reaches B.
// The host's network and hypervisor are the unit tests' recording fakes, so
// the test sees every call the proxy made to them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tvd/attest/attester.h"
#include "tvd/attest/esys_tpm.h"
#include "tvd/attest/tpm_key_cache.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/process.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/proxy/master_channel.h"
#include "tvd/proxy/master_client_link.h"
#include "tvd/proxy/per_call_tpm.h"
#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/proxy/update_inbox.h"
#include "tvd/testing/files.h"
#include "tvd/testing/free_port.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/port_file.h"
#include "tvd/testing/proxy_fakes.h"
#include "tvd/testing/proxy_test_util.h"
#include "tvd/testing/swtpm.h"
#include "tvd/testing/test_pki.h"
#include "tvd/testing/test_policy.h"

namespace tvd::proxy {
namespace {

using std::chrono::milliseconds;
using testing::FakeAdmissionStore;
using testing::FakeHypervisor;
using testing::FakeNetwork;
using testing::MakeVm;
using testing::TestVm;

const pki::Identity kMasterId{pki::Role::kHost, "tvd-master"};

// TVD blue (test_policy.h: node1 authorized, PCR 16 all zeros) with VM
// `vm`'s real measurements as its only known-good VM.
std::string BluePolicy(const TestVm& vm) {
  std::string xml =
      master::Policy("blue", 1, {"node1"}, {Sha256Digest{}}, /*interval=*/60);
  std::string vms = "<vms><vm name=\"" + vm.name + "\">";
  for (const policy::Measurement& m : vm.known_good.measures) {
    vms += "<measure type=\"" + std::string(policy::MeasureTypeName(m.type)) +
           "\"" + (m.target.empty() ? "" : " target=\"" + m.target + "\"") +
           " sha256=\"" + ToHex(*m.sha256) + "\"/>";
  }
  vms += "</vm></vms>";
  const std::size_t from = xml.find("<vms>");
  const std::size_t to = xml.find("</vms>") + 6;
  xml.replace(from, to - from, vms);
  // Only web1 of the original policy had a disk key.
  const std::size_t kr = xml.find("  <key-release>");
  xml.erase(kr, xml.find("</key-release>\n") + 15 - kr);
  return xml;
}

class MasterFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-failover-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/policies");
    std::filesystem::create_directory(dir_ + "/vm");
    auto pki = tvd::testing::TestPki::Create(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    ASSERT_TRUE(pki->Issue(pki::Role::kHost, "tvd-master", "master").ok());
    auto host = pki->Issue(pki::Role::kHost, "node1", "node1");
    auto admin = pki->Issue(pki::Role::kAdmin, "alice", "alice");
    ASSERT_TRUE(host.ok() && admin.ok());
    Write("master.kek", std::string(32, 'k'), 0600);
    auto host_tls = pki->ClientTls(*host);
    auto admin_tls = pki->ClientTls(*admin);
    ASSERT_TRUE(host_tls.ok() && admin_tls.ok());
    host_tls_ = std::move(*host_tls);
    admin_tls_ = std::move(*admin_tls);

    // node1's TPM, opened per call as tvd-proxy does; its EK is the one
    // the masters allow.
    auto swtpm = tvd::testing::SwtpmInstance::Start();
    ASSERT_TRUE(swtpm.ok()) << swtpm.status();
    swtpm_ = std::move(*swtpm);
    attest::EsysTpmOptions options{
        .tcti = swtpm_->tcti(),
        .key_cache = std::make_shared<attest::TpmKeyCache>()};
    tpm_ = std::make_unique<PerCallTpm>(
        [options]() -> StatusOr<std::unique_ptr<attest::Tpm>> {
          TVD_ASSIGN_OR_RETURN(auto esys, attest::EsysTpm::Open(options));
          return std::unique_ptr<attest::Tpm>(std::move(esys));
        });
    auto ek = tpm_->EkPublic();
    ASSERT_TRUE(ek.ok()) << ek.status();
    Write("eks.txt", "node1 " + ToHex(Sha256(*ek)) + "\n", 0644);
    attester_ = std::make_unique<attest::Attester>(tpm_.get(),
                                                   attest::AttesterOptions{});

    web_ = MakeVm(dir_ + "/vm", "web", "blue", "blue-data", "tvdp-web");
    Write("policies/blue.xml", BluePolicy(web_), 0644);
  }

  void TearDown() override {
    proxy_.reset();
    link_.reset();
    for (auto* m : {&master_a_, &master_b_}) {
      if (*m) (void)(*m)->Stop();
    }
    std::filesystem::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& text, mode_t mode) {
    tvd::testing::WriteTestFile(dir_ + "/" + name, text, mode);
  }

  // A tvd-master process on the shared state file (dir/master.db),
  // listening on 127.0.0.1:`port` (0: any); returns the port it bound.
  StatusOr<std::uint16_t> StartMaster(const std::string& name,
                                      std::uint16_t port,
                                      std::unique_ptr<ChildProcess>& out) {
    const std::string conf = dir_ + "/" + name + ".conf";
    const std::string port_file = dir_ + "/" + name + ".port";
    TVD_RETURN_IF_ERROR(tvd::testing::WriteMasterConfig(
        conf, tvd::testing::MasterConfigFile::InDir(dir_, port)));
    ProcessOptions o;
    o.argv = {std::string(TVD_BINARY_DIR) + "/tvd-master/tvd-master",
              "--config", conf, "--port-file", port_file};
    o.stderr_path = dir_ + "/" + name + ".log";
    TVD_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(o));
    out = std::make_unique<ChildProcess>(std::move(child));
    return tvd::testing::WaitForPortFile(port_file, milliseconds(10000),
                                         out->pid());
  }

  std::unique_ptr<MasterClientLink> MakeLink(
      const std::vector<std::uint16_t>& ports) {
    std::vector<MasterChannelPtr> masters;
    for (std::uint16_t p : ports) {
      masters.push_back(std::make_unique<MasterClientChannel>(
          "node1", protocol::MasterEndpoint{"127.0.0.1", p, kMasterId},
          *host_tls_, *attester_));
    }
    return std::make_unique<MasterClientLink>(std::move(masters), "198.18.0.1");
  }

  // The proxy's loop, as tvd-proxy runs it: applies the link's updates
  // until `done` or 20 s passed.
  template <typename Pred>
  bool RunUntil(Pred done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const MasterUpdate& u : inbox_.Drain()) {
        updates_.push_back(u.kind);
        proxy_->OnMasterUpdate(u);
      }
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  StatusOr<nlohmann::json> QueryBlue(std::uint16_t port) {
    protocol::AdminClient admin({"127.0.0.1", port, kMasterId}, *admin_tls_,
                                milliseconds(5000));
    TVD_ASSIGN_OR_RETURN(std::string reply,
                         admin.Query({protocol::AdminQueryKind::kTvd, "blue"}));
    return nlohmann::json::parse(reply);
  }

  std::string Log(const std::string& name) {
    std::ifstream in(dir_ + "/" + name + ".log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  std::unique_ptr<channel::TlsContext> host_tls_;
  std::unique_ptr<channel::TlsContext> admin_tls_;
  std::unique_ptr<tvd::testing::SwtpmInstance> swtpm_;
  std::unique_ptr<PerCallTpm> tpm_;
  std::unique_ptr<attest::Attester> attester_;
  TestVm web_;
  std::unique_ptr<ChildProcess> master_a_;
  std::unique_ptr<ChildProcess> master_b_;
  FakeHypervisor hypervisor_;
  FakeNetwork network_;
  MeasurementCache cache_;
  FakeAdmissionStore admissions_;
  MasterUpdateInbox inbox_;
  std::vector<MasterUpdate::Kind> updates_;
  std::unique_ptr<MasterClientLink> link_;
  std::unique_ptr<TvdProxy> proxy_;
};

TEST_F(MasterFailoverTest, KilledMasterIsReplacedByTheNextWithoutALeave) {
  auto port_a = StartMaster("a", 0, master_a_);
  ASSERT_TRUE(port_a.ok()) << port_a.status() << "\n" << Log("a");
  // B's port is fixed now: it is the second entry of the host's list.
  auto port_b = tvd::testing::FreeLoopbackPort();
  ASSERT_TRUE(port_b.ok()) << port_b.status();
  link_ = MakeLink({*port_a, *port_b});
  link_->SetUpdateHandler([this](const MasterUpdate& u) { inbox_.Push(u); });
  proxy_ = std::make_unique<TvdProxy>(
      ProxyConfig{
          .tvd = "blue", .local_host = "node1", .local_address = "198.18.0.1"},
      *link_, hypervisor_, network_, cache_, admissions_,
      std::make_shared<SteadyClock>());
  Status joined = proxy_->Join();
  ASSERT_TRUE(joined.ok()) << joined << "\n" << Log("a");
  const std::uint64_t epoch_a = proxy_->StatusJson()["key_epoch"];
  ASSERT_EQ(link_->current_master(), 0u);
  ASSERT_EQ(network_.join_calls, 1);

  // Master A dies without a word.
  ASSERT_TRUE(master_a_->Signal(SIGKILL).ok());
  auto code = master_a_->Wait(milliseconds(10000));
  ASSERT_TRUE(code.ok()) << code.status();
  master_a_.reset();

  // The host carries on meanwhile: a VM is attached; its report cannot
  // reach any master and is kept.
  auto attached = proxy_->Attach(web_.config_path);
  ASSERT_TRUE(attached.ok()) << attached.status();
  const std::string web_tap = TapName("blue", 1, "web", 0);
  ASSERT_TRUE(network_.ports.contains(web_tap));
  EXPECT_EQ(proxy_->StatusJson()["unreported_vms"], 1);

  // Master B, on the same state, at the list's second entry.
  auto bound_b = StartMaster("b", *port_b, master_b_);
  ASSERT_TRUE(bound_b.ok()) << bound_b.status() << "\n" << Log("b");
  ASSERT_EQ(*bound_b, *port_b);

  // The link rejoins at B (attesting there); a restarted master starts a
  // new key epoch, so the grant is a rekey.
  ASSERT_TRUE(RunUntil([&] {
    return proxy_->StatusJson()["key_epoch"].get<std::uint64_t>() != epoch_a &&
           proxy_->StatusJson()["unreported_vms"] == 0;
  })) << Log("b");
  EXPECT_EQ(link_->current_master(), 1u);
  EXPECT_GT(proxy_->StatusJson()["key_epoch"].get<std::uint64_t>(), epoch_a);
  EXPECT_EQ(updates_,
            std::vector<MasterUpdate::Kind>{MasterUpdate::Kind::kMembers});

  // Nothing on the host was torn down: the TVD's networks were programmed
  // once more (the rekey), the VM runs and keeps its port, nothing left.
  EXPECT_EQ(network_.join_calls, 2);
  EXPECT_TRUE(network_.joined.contains("blue"));
  EXPECT_TRUE(network_.ports.contains(web_tap));
  EXPECT_TRUE(network_.unplugged.empty());
  ASSERT_TRUE(hypervisor_.domains.contains("web"));
  EXPECT_TRUE(hypervisor_.domains["web"].active);
  EXPECT_TRUE(proxy_->joined());
  EXPECT_FALSE(proxy_->left());

  // B sees node1 as an attested, connected member running web: the report
  // A never acknowledged arrived at B.
  auto blue = QueryBlue(*port_b);
  ASSERT_TRUE(blue.ok()) << blue.status();
  ASSERT_EQ((*blue)["members"].size(), 1u);
  EXPECT_EQ((*blue)["members"][0]["host"], "node1");
  EXPECT_EQ((*blue)["members"][0]["attested"], true);
  EXPECT_EQ((*blue)["members"][0]["connected"], true);
  EXPECT_EQ((*blue)["epoch"].get<std::uint64_t>(),
            proxy_->StatusJson()["key_epoch"].get<std::uint64_t>());
  ASSERT_EQ((*blue)["vms"].size(), 1u);
  EXPECT_EQ((*blue)["vms"][0]["vm"], "web");
  EXPECT_EQ((*blue)["vms"][0]["host"], "node1");
  EXPECT_EQ((*blue)["vms"][0]["uuid"], (*attached)["uuid"]);

  // A leave now goes to B and ends the membership there.
  ASSERT_TRUE(proxy_->Leave().ok());
  auto after = QueryBlue(*port_b);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE((*after)["members"].empty());
}

}  // namespace
}  // namespace tvd::proxy
