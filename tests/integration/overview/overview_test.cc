// The admin overview against the real daemons: the tvd-master binary with a
// host "node1" that joined TVD blue through a real swtpm and reported VM
// web1; the rm-server and rm-agent binaries, the agent reading libvirt's
// test driver where web1 runs tagged with TVD blue. Then:
//   - `tvdctl vdc overview --json` and the table show blue on node1;
//   - the tvd-overview binary serves the page, JSON and SVG on loopback;
//   - Debian's headless chromium loads the page: the DOM holds the TVD and
//     host, and a screenshot is taken.
// Everything is started once for the binary (SetUpTestSuite) and stopped by
// PID.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tvd/attest/attester.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/process.h"
#include "tvd/protocol/master_client.h"
#include "tvd/testing/files.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/port_file.h"
#include "tvd/testing/swtpm.h"
#include "tvd/testing/test_policy.h"

namespace tvd::overview {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using ::tvd::testing::ReadFileOrEmpty;
using ::tvd::testing::WaitFor;
using ::tvd::testing::WriteTestFile;

const std::string kBin = TVD_BINARY_DIR;
const std::string kMasterBin = kBin + "/tvd-master/tvd-master";
const std::string kRmServerBin = kBin + "/rm-agent/rm-server";
const std::string kRmAgentBin = kBin + "/rm-agent/rm-agent";
const std::string kTvdctlBin = kBin + "/tvdctl/tvdctl";
const std::string kOverviewBin = kBin + "/overview/tvd-overview";

// One GET over loopback; the whole answer (the server closes after it).
std::string HttpGet(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string Body(const std::string& reply) {
  auto at = reply.find("\r\n\r\n");
  return at == std::string::npos ? "" : reply.substr(at + 4);
}

// libvirt's test driver, in process: node1 runs web1 of TVD blue and an
// untagged "tools" domain.
constexpr char kNode1Libvirt[] = R"(<node>
<domain type="test">
  <name>web1</name>
  <uuid>12345678-1234-4234-8234-123456789abc</uuid>
  <memory>65536</memory><vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <metadata>
    <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
      <tvd:vnet target="web0" network="blue-data"/>
    </tvd:tvd>
  </metadata>
</domain>
<domain type="test">
  <name>tools</name>
  <uuid>12345678-1234-4234-8234-123456789abd</uuid>
  <memory>65536</memory><vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
</node>
)";

class OverviewIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_ = new Shared();
    s_->Start();
  }
  static void TearDownTestSuite() {
    delete s_;
    s_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(s_->started) << "the suite's daemons did not start:\n"
                             << s_->failure;
  }

  struct Shared {
    std::string dir;
    bool started = false;
    std::string failure;
    std::unique_ptr<testing::SwtpmInstance> swtpm;
    std::unique_ptr<attest::EsysTpm> tpm;
    std::unique_ptr<attest::Attester> attester;
    std::unique_ptr<channel::TlsContext> host_tls;
    std::unique_ptr<protocol::MasterClient> node1;
    std::thread serving;
    std::atomic<bool> stop_serving{false};
    ChildProcess master, rm_server, rm_agent, overview;
    std::uint16_t master_port = 0;
    std::uint16_t overview_port = 0;
    std::string query_endpoint;

    std::vector<std::string> MasterArgs() const {
      return {"--master", "127.0.0.1:" + std::to_string(master_port),
              "--ca",     dir + "/ca.pem",
              "--cert",   dir + "/admin.pem",
              "--key",    dir + "/admin.key"};
    }
    std::vector<std::string> RmArgs() const {
      return {"--rm-server",       query_endpoint, "--rm-server-key",
              dir + "/server.pub", "--rm-key",     dir + "/rmadmin"};
    }

    std::string Logs() const {
      std::string out;
      for (const char* name :
           {"master.log", "rm-server.log", "rm-agent.log", "overview.log"}) {
        out += std::string("--- ") + name + "\n" +
               ReadFileOrEmpty(dir + "/" + name) + "\n";
      }
      return out;
    }

    void Fail(const std::string& why) { failure = why + "\n" + Logs(); }

    void Start() {
      std::string tmpl =
          "/tmp/tvd-overview-it-" + std::to_string(::getpid()) + "-XXXXXX";
      if (::mkdtemp(tmpl.data()) == nullptr) return Fail("mkdtemp");
      dir = tmpl;
      std::filesystem::create_directory(dir + "/policies");

      // PKI: the VDC CA, the master, an admin, host node1.
      auto day = pki::Validity::ForDays(1);
      auto ca = pki::CreateCa("vdc-test", day);
      if (!ca.ok()) return Fail(ca.status().ToString());
      auto master_cert =
          pki::IssueCertificate(*ca, pki::Role::kHost, "tvd-master", day);
      auto admin = pki::IssueCertificate(*ca, pki::Role::kAdmin, "alice", day);
      auto host = pki::IssueCertificate(*ca, pki::Role::kHost, "node1", day);
      if (!master_cert.ok() || !admin.ok() || !host.ok()) {
        return Fail("issuing certificates");
      }
      auto pem = [](const SecureBytes& b) {
        return std::string(b.view().begin(), b.view().end());
      };
      WriteTestFile(dir + "/ca.pem", ca->cert_pem);
      WriteTestFile(dir + "/master.pem", master_cert->cert_pem);
      WriteTestFile(dir + "/master.key", pem(master_cert->key_pem), 0600);
      WriteTestFile(dir + "/admin.pem", admin->cert_pem);
      WriteTestFile(dir + "/admin.key", pem(admin->key_pem), 0600);
      auto tls = channel::TlsContext::Create(
          channel::TlsSide::kClient,
          {ca->cert_pem, host->cert_pem, host->key_pem.Clone()});
      if (!tls.ok()) return Fail(tls.status().ToString());
      host_tls = std::move(tls).value();

      // node1's TPM: a real swtpm; its EK goes on the master's allow-list.
      auto sw = testing::SwtpmInstance::Start();
      if (!sw.ok()) return Fail(sw.status().ToString());
      swtpm = std::move(sw).value();
      auto opened = swtpm->Open();
      if (!opened.ok()) return Fail(opened.status().ToString());
      tpm = std::move(opened).value();
      auto ek = tpm->EkPublic();
      if (!ek.ok()) return Fail(ek.status().ToString());
      attester = std::make_unique<attest::Attester>(tpm.get(),
                                                    attest::AttesterOptions{});

      // tvd-master: TVD blue authorizes node1 (PCR 16 all zeros, as after
      // the TPM's start-up), re-attestation every 60 s.
      WriteTestFile(dir + "/master.kek", std::string(32, 'k'), 0600);
      WriteTestFile(dir + "/eks.txt", "node1 " + ToHex(Sha256(*ek)) + "\n");
      WriteTestFile(dir + "/policies/blue.xml",
                    master::Policy("blue", 1, {"node1"}, {Sha256Digest{}}, 60));
      // Port 0: the master reports the port it bound in its --port-file.
      WriteTestFile(dir + "/master.conf",
                    testing::MasterConfigFile::InDir(dir, 0).Text());
      ProcessOptions mo;
      mo.argv = {kMasterBin, "--config", dir + "/master.conf", "--port-file",
                 dir + "/master.port"};
      mo.stderr_path = dir + "/master.log";
      auto m = ChildProcess::Start(mo);
      if (!m.ok()) return Fail(m.status().ToString());
      master = std::move(m).value();
      StatusOr<std::uint16_t> port = testing::WaitForPortFile(
          dir + "/master.port", milliseconds(10000), master.pid());
      if (!port.ok()) return Fail(port.status().ToString());
      master_port = *port;

      // node1 joins blue (enrols its AK, attests) and reports web1.
      node1 = std::make_unique<protocol::MasterClient>(
          "node1",
          protocol::MasterEndpoint{
              "127.0.0.1", master_port, {pki::Role::kHost, "tvd-master"}},
          *host_tls, *attester);
      StatusOr<protocol::JoinGrant> grant = Unavailable("not tried");
      WaitFor(
          [&] {
            grant = node1->Join({"blue", "198.18.0.1", std::nullopt});
            return grant.ok() ||
                   grant.status().code() != ErrorCode::kUnavailable;
          },
          milliseconds(15000));
      if (!grant.ok()) return Fail("join: " + grant.status().ToString());
      serving = std::thread([this] {
        (void)node1->Serve(protocol::MasterEvents{}, stop_serving);
      });
      Status reported = node1->ReportVm({"blue", "web1", true, ""});
      if (!reported.ok()) return Fail("report: " + reported.ToString());

      // rm-server and node1's rm-agent, keys from their keygen commands.
      std::string agent_pub, admin_pub;
      for (auto [bin, name, out] :
           {std::tuple{kRmServerBin, "server", (std::string*)nullptr},
            std::tuple{kRmAgentBin, "node1", &agent_pub},
            std::tuple{kRmAgentBin, "rmadmin", &admin_pub}}) {
        ProcessOptions k;
        k.argv = {bin, "keygen", dir + "/" + name};
        auto r = RunCommand(k);
        if (!r.ok() || r->exit_status != 0) return Fail("keygen " + bin);
        if (out != nullptr) *out = r->out.substr(0, r->out.find('\n'));
      }
      WriteTestFile(dir + "/agents.list", agent_pub + " node1\n");
      WriteTestFile(dir + "/admins.list", admin_pub + " admin\n");
      ProcessOptions so;
      so.argv = {kRmServerBin,       "--agent-endpoint",   "tcp://127.0.0.1:*",
                 "--query-endpoint", "tcp://127.0.0.1:*",  "--key",
                 dir + "/server",    "--agents",           dir + "/agents.list",
                 "--admins",         dir + "/admins.list", "--endpoints-file",
                 dir + "/endpoints"};
      so.stderr_path = dir + "/rm-server.log";
      auto srv = ChildProcess::Start(so);
      if (!srv.ok()) return Fail(srv.status().ToString());
      rm_server = std::move(srv).value();
      if (!WaitFor([&] { return std::filesystem::exists(dir + "/endpoints"); },
                   milliseconds(10000))) {
        return Fail("rm-server wrote no endpoints");
      }
      std::string agent_endpoint;
      std::istringstream(ReadFileOrEmpty(dir + "/endpoints")) >>
          agent_endpoint >> query_endpoint;
      WriteTestFile(dir + "/node1.xml", kNode1Libvirt);
      ProcessOptions ao;
      ao.argv = {kRmAgentBin,
                 "--server",
                 agent_endpoint,
                 "--server-key",
                 dir + "/server.pub",
                 "--key",
                 dir + "/node1",
                 "--host",
                 "node1",
                 "--libvirt-uri",
                 "test://" + dir + "/node1.xml",
                 "--report-ms",
                 "200",
                 "--heartbeat-ms",
                 "100"};
      ao.stderr_path = dir + "/rm-agent.log";
      auto agent = ChildProcess::Start(ao);
      if (!agent.ok()) return Fail(agent.status().ToString());
      rm_agent = std::move(agent).value();

      // tvd-overview on a free loopback port.
      ProcessOptions oo;
      oo.argv = {
          kOverviewBin,           "--listen",   "127.0.0.1:0", "--port-file",
          dir + "/overview.port", "--cache-ms", "200"};
      for (const auto& a : MasterArgs()) oo.argv.push_back(a);
      for (const auto& a : RmArgs()) oo.argv.push_back(a);
      oo.stderr_path = dir + "/overview.log";
      auto ov = ChildProcess::Start(oo);
      if (!ov.ok()) return Fail(ov.status().ToString());
      overview = std::move(ov).value();
      StatusOr<std::uint16_t> ov_port = testing::WaitForPortFile(
          dir + "/overview.port", milliseconds(10000), overview.pid());
      if (!ov_port.ok()) return Fail(ov_port.status().ToString());
      overview_port = *ov_port;

      // Ready when the overview has both sides: the agent reported web1.
      if (!WaitFor(
              [&] {
                std::string body =
                    Body(HttpGet(overview_port, "/overview.json"));
                json j = json::parse(body, nullptr, false);
                if (j.is_discarded() || !j.contains("hosts")) return false;
                for (const json& h : j["hosts"]) {
                  if (h["name"] == "node1" && h["known_to_rm"] == true &&
                      h["domains"].size() == 2) {
                    return true;
                  }
                }
                return false;
              },
              milliseconds(20000))) {
        return Fail("the overview never showed node1's domains: " +
                    Body(HttpGet(overview_port, "/overview.json")));
      }
      started = true;
    }

    ~Shared() {
      stop_serving = true;
      // Stop in reverse order, each by PID; SIGTERM is a clean stop.
      if (overview.pid() > 0) {
        auto st = overview.Stop(milliseconds(5000));
        EXPECT_TRUE(st.ok() && *st == 0)
            << ReadFileOrEmpty(dir + "/overview.log");
      }
      if (rm_agent.pid() > 0) (void)rm_agent.Stop(milliseconds(5000));
      if (rm_server.pid() > 0) (void)rm_server.Stop(milliseconds(5000));
      if (master.pid() > 0) (void)master.Stop(milliseconds(5000));
      if (serving.joinable()) serving.join();
      node1.reset();
      attester.reset();
      tpm.reset();
      swtpm.reset();
      if (!dir.empty()) std::filesystem::remove_all(dir);
    }
  };

  static CommandResult Tvdctl(std::vector<std::string> args) {
    ProcessOptions o;
    o.argv = {kTvdctlBin, "vdc", "overview"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    for (const auto& a : s_->MasterArgs()) o.argv.push_back(a);
    for (const auto& a : s_->RmArgs()) o.argv.push_back(a);
    auto r = RunCommand(o, milliseconds(30000));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", ""};
  }

  static Shared* s_;
};

OverviewIntegrationTest::Shared* OverviewIntegrationTest::s_ = nullptr;

TEST_F(OverviewIntegrationTest, TvdctlJsonShowsTheTvdAcrossItsHost) {
  CommandResult r = Tvdctl({"--json"});
  ASSERT_EQ(r.exit_status, 0) << r.err << r.out;
  json j = json::parse(r.out);
  EXPECT_EQ(j["sources"]["master"]["ok"], true);
  EXPECT_EQ(j["sources"]["rm"]["ok"], true);
  ASSERT_EQ(j["tvds"].size(), 1u) << j.dump(2);
  const json& blue = j["tvds"][0];
  EXPECT_EQ(blue["name"], "blue");
  EXPECT_EQ(blue["known_to_master"], true);
  EXPECT_EQ(blue["networks"], json({"blue-data"}));
  ASSERT_EQ(blue["hosts"].size(), 1u);
  const json& part = blue["hosts"][0];
  EXPECT_EQ(part["host"], "node1");
  EXPECT_EQ(part["member"], true);
  EXPECT_EQ(part["attested"], true) << part.dump();
  EXPECT_EQ(part["connected"], true);
  ASSERT_EQ(part["vms"].size(), 1u);
  EXPECT_EQ(part["vms"][0], json({{"name", "web1"},
                                  {"state", "running"},
                                  {"reported", true},
                                  {"seen_on_host", true}}));

  ASSERT_EQ(j["hosts"].size(), 1u);
  const json& node1 = j["hosts"][0];
  EXPECT_EQ(node1["name"], "node1");
  EXPECT_EQ(node1["up"], true);
  EXPECT_EQ(node1["known_to_master"], true);
  EXPECT_EQ(node1["known_to_rm"], true);
  EXPECT_EQ(node1["attested"], true);
  EXPECT_EQ(node1["underlay"], "198.18.0.1");
  EXPECT_EQ(node1["tvds"], json({"blue"}));
  EXPECT_GE(node1["resources"]["cpus"].get<int>(), 1);
  EXPECT_GT(node1["resources"]["mem_total_kib"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(node1["domains"].size(), 2u);  // web1 and the untagged tools
  EXPECT_EQ(j["totals"]["tvds"], 1);
  EXPECT_EQ(j["totals"]["vms"], 1);
}

TEST_F(OverviewIntegrationTest, TvdctlTableShowsTvdsAndHosts) {
  CommandResult r = Tvdctl({});
  ASSERT_EQ(r.exit_status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("master: ok  rm-server: ok"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1 TVDs, 1 hosts (1 up), 1 TVD VMs"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("web1(running)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nnode1  up     ok           blue"), std::string::npos)
      << r.out;
}

TEST_F(OverviewIntegrationTest, WrongRmKeyIsATimeoutAndExit3) {
  // A key the server does not list: CURVE drops the connection, which the
  // client sees as no answer. The master part is still shown.
  ProcessOptions k;
  k.argv = {kRmAgentBin, "keygen", s_->dir + "/stranger"};
  auto kg = RunCommand(k);
  ASSERT_TRUE(kg.ok() && kg->exit_status == 0);
  ProcessOptions o;
  o.argv = {kTvdctlBin, "vdc", "overview", "--json", "--timeout-ms", "500"};
  for (const auto& a : s_->MasterArgs()) o.argv.push_back(a);
  o.argv.insert(o.argv.end(),
                {"--rm-server", s_->query_endpoint, "--rm-server-key",
                 s_->dir + "/server.pub", "--rm-key", s_->dir + "/stranger"});
  auto r = RunCommand(o, milliseconds(30000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_status, 3) << r->err;
  json j = json::parse(r->out);
  EXPECT_EQ(j["sources"]["rm"]["code"], "timeout");
  EXPECT_EQ(j["tvds"][0]["name"], "blue");
  EXPECT_NE(
      r->err.find("tvdctl vdc: rm-server " + s_->query_endpoint + ": timeout"),
      std::string::npos)
      << r->err;
}

TEST_F(OverviewIntegrationTest, DaemonServesJsonSvgAndRefusesTheRest) {
  const std::uint16_t port = s_->overview_port;
  std::string reply = HttpGet(port, "/overview.json");
  ASSERT_TRUE(reply.starts_with("HTTP/1.1 200 OK\r\n")) << reply;
  json j = json::parse(Body(reply));
  EXPECT_EQ(j["tvds"][0]["name"], "blue");
  EXPECT_EQ(j["hosts"][0]["name"], "node1");
  reply = HttpGet(port, "/overview.svg");
  EXPECT_NE(reply.find("Content-Type: image/svg+xml"), std::string::npos);
  EXPECT_NE(Body(reply).find("data-tvd=\"blue\" data-host=\"node1\""),
            std::string::npos)
      << Body(reply);
  EXPECT_TRUE(HttpGet(port, "/admin").starts_with("HTTP/1.1 404 "));
  EXPECT_TRUE(HttpGet(port, "/../etc/passwd").starts_with("HTTP/1.1 404 "));
}

TEST_F(OverviewIntegrationTest, DaemonRefusesNonLoopbackAndBadUsage) {
  ProcessOptions o;
  o.argv = {kOverviewBin, "--listen", "0.0.0.0:0"};
  for (const auto& a : s_->MasterArgs()) o.argv.push_back(a);
  for (const auto& a : s_->RmArgs()) o.argv.push_back(a);
  auto r = RunCommand(o, milliseconds(15000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_status, 1);
  EXPECT_NE(r->err.find("permission-denied: cannot serve: listen address "
                        "0.0.0.0 is not a loopback address (pass "
                        "--allow-non-loopback to serve other machines)"),
            std::string::npos)
      << r->err;
  o.argv = {kOverviewBin, "--listen", "127.0.0.1:0"};
  r = RunCommand(o, milliseconds(15000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_status, 2);
  EXPECT_NE(r->err.find("tvd-overview: --master is required"),
            std::string::npos)
      << r->err;
}

// A --port-file that cannot be written fails the start (exit 1, logged):
// whoever waits for the file would otherwise wait forever.
TEST_F(OverviewIntegrationTest, UnwritablePortFileFailsTheStart) {
  const std::string path = s_->dir + "/missing/overview.port";
  ProcessOptions o;
  o.argv = {kOverviewBin, "--listen", "127.0.0.1:0", "--port-file", path};
  for (const auto& a : s_->MasterArgs()) o.argv.push_back(a);
  for (const auto& a : s_->RmArgs()) o.argv.push_back(a);
  auto r = RunCommand(o, milliseconds(15000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_status, 1) << r->err;
  EXPECT_NE(r->err.find("--port-file: io: cannot create " + path +
                        ".tmp.XXXXXX: No such file or directory"),
            std::string::npos)
      << r->err;
  EXPECT_FALSE(std::filesystem::exists(s_->dir + "/missing"));
}

// With the master's replicas listed, the overview asks the first that
// accepts the connection: a replica that is down (here a bound port nobody
// listens on: the connection is refused, every time) is passed over.
TEST_F(OverviewIntegrationTest, DaemonPassesOverAMasterReplicaThatIsDown) {
  int dead = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(dead, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(dead, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(dead, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string dead_master =
      "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  std::vector<std::string> masters = s_->MasterArgs();
  masters[1] = dead_master + "," + masters[1];
  ProcessOptions o;
  o.argv = {kOverviewBin, "--listen", "127.0.0.1:0", "--port-file",
            s_->dir + "/overview2.port"};
  for (const auto& arg : masters) o.argv.push_back(arg);
  for (const auto& arg : s_->RmArgs()) o.argv.push_back(arg);
  o.stderr_path = s_->dir + "/overview2.log";
  auto child = ChildProcess::Start(o);
  ASSERT_TRUE(child.ok()) << child.status();
  StatusOr<std::uint16_t> port = testing::WaitForPortFile(
      s_->dir + "/overview2.port", milliseconds(10000), child->pid());
  ASSERT_TRUE(port.ok()) << port.status();
  json j = json::parse(Body(HttpGet(*port, "/overview.json")));
  EXPECT_EQ(j["sources"]["master"]["ok"], true) << j.dump();
  EXPECT_EQ(j["tvds"][0]["name"], "blue");
  EXPECT_EQ(j["hosts"][0]["name"], "node1");
  auto code = child->Stop();
  EXPECT_TRUE(code.ok() && *code == 0);
  ::close(dead);
}

// Runs chromium headless with `extra` arguments on the overview page;
// kills its whole process group if it is not done in 60 s. Returns its
// stdout.
StatusOr<std::string> Chromium(const std::string& dir, const std::string& url,
                               std::vector<std::string> extra) {
  static const char* kCandidates[] = {"/usr/bin/chromium"};
  std::string binary;
  for (const char* c : kCandidates) {
    if (::access(c, X_OK) == 0) binary = c;
  }
  if (binary.empty()) {
    return NotFound(
        "chromium is not installed: run scripts/install-deps.sh (Debian "
        "package 'chromium')");
  }
  static int run = 0;
  const std::string profile =
      dir + "/chromium-profile-" + std::to_string(++run);
  std::filesystem::create_directories(profile);
  ProcessOptions o;
  o.argv = {binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--user-data-dir=" + profile};
  o.argv.insert(o.argv.end(), extra.begin(), extra.end());
  o.argv.push_back(url);
  o.stdout_path = dir + "/chromium-" + std::to_string(run) + ".out";
  o.stderr_path = dir + "/chromium-" + std::to_string(run) + ".err";
  // Chromium's own HOME-based caches stay inside the test directory.
  o.env = {"HOME=" + profile, "PATH=/usr/bin:/bin"};
  auto child = ChildProcess::Start(o);
  if (!child.ok()) return child.status();
  // ChildProcess puts the child in its own process group: on a timeout the
  // renderer and helper processes go with it.
  const pid_t group = child->pid();
  auto code = child->Wait(milliseconds(60000));
  if (!code.ok()) {
    ::kill(-group, SIGKILL);
    (void)child->Wait(milliseconds(5000));
    return Timeout("chromium did not finish in 60 s:\n" +
                   ReadFileOrEmpty(o.stderr_path));
  }
  ::kill(-group, SIGKILL);  // leftover helpers, if any
  if (*code != 0) {
    return Internal("chromium exited " + std::to_string(*code) + ":\n" +
                    ReadFileOrEmpty(o.stderr_path));
  }
  return ReadFileOrEmpty(o.stdout_path);
}

TEST_F(OverviewIntegrationTest,
       HeadlessChromiumShowsTvdsAndHostsAndScreenshots) {
  const std::string url =
      "http://127.0.0.1:" + std::to_string(s_->overview_port) + "/";
  auto dom = Chromium(s_->dir, url, {"--dump-dom"});
  ASSERT_TRUE(dom.ok()) << dom.status();
  EXPECT_NE(dom->find("<title>VDC overview</title>"), std::string::npos)
      << *dom;
  EXPECT_NE(dom->find("<meta http-equiv=\"refresh\" content=\"5\">"),
            std::string::npos);
  // The picture: node1's column and blue's box on it, with web1 inside.
  EXPECT_NE(dom->find("class=\"host\" data-host=\"node1\""), std::string::npos)
      << *dom;
  EXPECT_NE(dom->find("class=\"tvd\" data-tvd=\"blue\""), std::string::npos);
  EXPECT_NE(dom->find("class=\"tvd-host\" data-tvd=\"blue\" "
                      "data-host=\"node1\""),
            std::string::npos);
  EXPECT_NE(dom->find(">web1  running<"), std::string::npos);
  // The tables.
  EXPECT_NE(dom->find("<tr data-tvd=\"blue\">"), std::string::npos);
  EXPECT_NE(dom->find("<tr data-host=\"node1\"><td>node1</td><td "
                      "class=\"ok\">up</td>"),
            std::string::npos)
      << *dom;
  EXPECT_NE(dom->find("1 TVDs, 1 hosts (1 up), 1 TVD VMs"), std::string::npos);

  // The screenshot stays under the test's build directory.
  const std::string shot_dir =
      std::string(TVD_BINARY_DIR) + "/tests/integration/overview/screenshots";
  std::filesystem::create_directories(shot_dir);
  // One file per build directory, replaced on every run.
  const std::string shot = shot_dir + "/overview.png";
  std::filesystem::remove(shot);
  auto out = Chromium(
      s_->dir, url,
      {"--screenshot=" + shot, "--window-size=1280,900", "--hide-scrollbars"});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(std::filesystem::exists(shot));
  const std::string png = ReadFileOrEmpty(shot);
  ASSERT_GE(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  auto be32 = [&](std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(png[at]))
            << 24) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(png[at + 1]))
            << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(png[at + 2]))
            << 8) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(png[at + 3]));
  };
  EXPECT_EQ(be32(16), 1280u);  // width
  EXPECT_EQ(be32(20), 900u);   // height
  // A blank 1280x900 page compresses to a few KiB; the picture and tables
  // make it much larger.
  EXPECT_GT(png.size(), 20000u) << shot;
  EXPECT_LT(png.size(), 10u * 1024 * 1024) << shot;
}

}  // namespace
}  // namespace tvd::overview
