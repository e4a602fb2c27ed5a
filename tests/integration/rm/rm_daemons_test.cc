// rm-server and rm-agent as real processes: keys made by their keygen
// commands, allow-lists on disk, agents reading libvirt, stopped by PID.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tvd/process.h"
#include "tvd/rm/query_client.h"
#include "tvd/testing/files.h"
#include "tvd/testing/libvirtd.h"

namespace tvd::rm {
namespace {

using std::chrono::milliseconds;
using ::tvd::testing::ReadFileOrEmpty;
using ::tvd::testing::WaitFor;

const std::string kBin = TVD_BINARY_DIR;
const std::string kServerBin = kBin + "/rm-agent/rm-server";
const std::string kAgentBin = kBin + "/rm-agent/rm-agent";
const std::string kTvdctlBin = kBin + "/tvdctl/tvdctl";

ProcessOptions Argv(std::vector<std::string> argv) {
  ProcessOptions o;
  o.argv = std::move(argv);
  return o;
}

std::string FirstLine(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

class RmDaemonsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        "/tmp/tvd-rm-it-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    server_pub_ = Keygen(kServerBin, "server");
    for (const char* host : {"node1", "node2"}) {
      agent_pub_[host] = Keygen(kAgentBin, host);
    }
    admin_pub_ = Keygen(kAgentBin, "admin");
    stranger_pub_ = Keygen(kAgentBin, "stranger");
    std::ofstream(dir_ + "/agents.list")
        << "# rm-agent keys and the host each speaks for\n"
        << agent_pub_["node1"] << " node1\n"
        << agent_pub_["node2"] << " node2\n";
    std::ofstream(dir_ + "/admins.list") << admin_pub_ << " admin\n";

    ProcessOptions o;
    o.argv = {kServerBin,
              "--agent-endpoint",
              "tcp://127.0.0.1:*",
              "--query-endpoint",
              "tcp://127.0.0.1:*",
              "--key",
              dir_ + "/server",
              "--agents",
              dir_ + "/agents.list",
              "--admins",
              dir_ + "/admins.list",
              "--heartbeat-ms",
              "100",
              "--missed",
              "3",
              "--expiry-ms",
              "1500",
              "--endpoints-file",
              dir_ + "/endpoints"};
    o.stderr_path = dir_ + "/server.log";
    StatusOr<ChildProcess> server = ChildProcess::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_TRUE(
        WaitFor([&] { return std::filesystem::exists(dir_ + "/endpoints"); },
                milliseconds(10000)))
        << ReadFileOrEmpty(dir_ + "/server.log");
    std::istringstream endpoints(ReadFileOrEmpty(dir_ + "/endpoints"));
    endpoints >> agent_endpoint_ >> query_endpoint_;

    StatusOr<CurveKeyPair> admin = LoadKeyPair(dir_ + "/admin");
    ASSERT_TRUE(admin.ok());
    auto client = RmQueryClient::Connect(query_endpoint_, server_pub_, *admin);
    ASSERT_TRUE(client.ok());
    query_ = std::move(client).value();
  }

  void TearDown() override {
    query_.reset();
    for (auto& [name, agent] : agents_) (void)agent.Stop(milliseconds(3000));
    if (server_.pid() > 0) {
      // SIGTERM: a clean stop exits 0.
      StatusOr<int> st = server_.Stop(milliseconds(5000));
      EXPECT_TRUE(st.ok());
      if (st.ok()) {
        EXPECT_EQ(*st, 0) << ReadFileOrEmpty(dir_ + "/server.log");
      }
    }
    std::filesystem::remove_all(dir_);
  }

  std::string Keygen(const std::string& bin, const std::string& name) {
    StatusOr<CommandResult> r =
        RunCommand(Argv({bin, "keygen", dir_ + "/" + name}));
    EXPECT_TRUE(r.ok() && r->exit_status == 0);
    return r.ok() ? FirstLine(r->out) : "";
  }

  void StartAgent(const std::string& name, const std::string& key,
                  const std::string& libvirt_uri) {
    ProcessOptions o;
    o.argv = {kAgentBin,
              "--server",
              agent_endpoint_,
              "--server-key",
              dir_ + "/server.pub",
              "--key",
              dir_ + "/" + key,
              "--host",
              name,
              "--libvirt-uri",
              libvirt_uri,
              "--report-ms",
              "200",
              "--heartbeat-ms",
              "100",
              "--property",
              "role=compute"};
    o.stderr_path = dir_ + "/agent-" + name + ".log";
    StatusOr<ChildProcess> p = ChildProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    agents_[name] = std::move(p).value();
  }

  StatusOr<nlohmann::json> Ask(QueryRequest::Kind kind, std::string host = "",
                               std::string domain = "") {
    return query_->Query(QueryRequest{kind, std::move(host), std::move(domain)},
                         milliseconds(3000));
  }
  std::optional<bool> Up(const std::string& host) {
    auto n = Ask(QueryRequest::Kind::kNode, host);
    if (!n.ok()) return std::nullopt;
    return (*n)["up"].get<bool>();
  }

  std::string dir_;
  std::string server_pub_, admin_pub_, stranger_pub_;
  std::map<std::string, std::string> agent_pub_;
  std::string agent_endpoint_, query_endpoint_;
  ChildProcess server_;
  std::map<std::string, ChildProcess> agents_;
  std::unique_ptr<RmQueryClient> query_;
};

TEST_F(RmDaemonsTest, AgentReportsLibvirtDomainsWithTheirTvdAndUnregisters) {
  auto libvirtd = testing::LibvirtdInstance::Start();
  ASSERT_TRUE(libvirtd.ok()) << libvirtd.status().ToString();
  const std::string uri = (*libvirtd)->ClientUri("test:///default");
  // libvirtd keeps the test driver's state only while a connection is open,
  // so this one stays open for the whole test.
  virConnectPtr conn = virConnectOpen(uri.c_str());
  ASSERT_NE(conn, nullptr);
  std::unique_ptr<virConnect, int (*)(virConnectPtr)> close_conn(
      conn, &virConnectClose);
  {
    const char* xml = R"(<domain type="test">
      <name>cms</name>
      <uuid>12345678-1234-4234-8234-123456789abc</uuid>
      <memory>65536</memory><vcpu>1</vcpu>
      <os><type>hvm</type></os>
      <metadata>
        <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
          <tvd:vnet target="cms0" network="blue-data"/>
        </tvd:tvd>
      </metadata>
    </domain>)";
    virDomainPtr dom = virDomainDefineXML(conn, xml);
    ASSERT_NE(dom, nullptr);
    EXPECT_EQ(virDomainCreate(dom), 0);
    virDomainFree(dom);
  }
  StartAgent("node1", "node1", uri);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto d = Ask(QueryRequest::Kind::kDomains, "node1");
        return d.ok() && d->size() == 2;
      },
      milliseconds(10000)))
      << ReadFileOrEmpty(dir_ + "/agent-node1.log")
      << Ask(QueryRequest::Kind::kDomains, "node1")->dump();
  auto d = Ask(QueryRequest::Kind::kDomains, "node1");
  ASSERT_TRUE(d.ok());
  // Sorted by name: our "cms" and the test driver's own "test".
  EXPECT_EQ((*d)[0]["name"], "cms");
  EXPECT_EQ((*d)[0]["state"], "running");
  EXPECT_EQ((*d)[0]["tvd"], "blue");
  EXPECT_EQ((*d)[0]["uuid"], "12345678-1234-4234-8234-123456789abc");
  EXPECT_EQ((*d)[1]["name"], "test");
  EXPECT_EQ((*d)[1]["tvd"], "");
  EXPECT_EQ(*Ask(QueryRequest::Kind::kNetworks, "node1", "cms"),
            nlohmann::json({"blue-data"}));
  auto agents = Ask(QueryRequest::Kind::kAgents);
  ASSERT_TRUE(agents.ok());
  EXPECT_EQ((*agents)[0]["properties"]["role"], "compute");
  auto node = Ask(QueryRequest::Kind::kNode, "node1");
  ASSERT_TRUE(node.ok());
  EXPECT_GE((*node)["status"]["cpus"].get<int>(), 1);
  EXPECT_GT((*node)["status"]["mem_total_kib"].get<std::uint64_t>(), 0u);

  // The same through tvdctl, when it is part of the build.
  if (std::filesystem::exists(kTvdctlBin)) {
    StatusOr<CommandResult> r = RunCommand(Argv(
        {kTvdctlBin, "rm", "--server", query_endpoint_, "--server-key",
         dir_ + "/server.pub", "--key", dir_ + "/admin", "domains", "node1"}));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_status, 0) << r->err;
    EXPECT_NE(r->out.find("cms"), std::string::npos) << r->out;
    EXPECT_NE(r->out.find("blue-data"), std::string::npos) << r->out;
    r = RunCommand(Argv({kTvdctlBin, "rm", "--server", query_endpoint_,
                         "--server-key", dir_ + "/server.pub", "--key",
                         dir_ + "/admin", "node", "nosuch"}));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_status, 1);
    EXPECT_EQ(r->err, "tvdctl rm: not-found: no agent 'nosuch'\n");
  }

  // SIGTERM: the agent unregisters and exits 0.
  StatusOr<int> st = agents_["node1"].Stop(milliseconds(5000));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto a = Ask(QueryRequest::Kind::kAgents);
        return a.ok() && a->empty();
      },
      milliseconds(3000)));
  EXPECT_NE(
      ReadFileOrEmpty(dir_ + "/server.log").find("agent 'node1' unregistered"),
      std::string::npos);
}

TEST_F(RmDaemonsTest, KilledAgentGoesDownAndExpires) {
  StartAgent("node2", "node2", "test:///default");
  ASSERT_TRUE(WaitFor([&] { return Up("node2") == true; }, milliseconds(10000)))
      << ReadFileOrEmpty(dir_ + "/agent-node2.log");
  ASSERT_TRUE(agents_["node2"].Signal(SIGKILL).ok());
  (void)agents_["node2"].Wait(milliseconds(3000));
  // 3 x 100 ms without a heartbeat: down; 1.5 s: removed.
  EXPECT_TRUE(
      WaitFor([&] { return Up("node2") == false; }, milliseconds(3000)));
  EXPECT_TRUE(
      WaitFor([&] { return !Up("node2").has_value(); }, milliseconds(5000)));
  const std::string log = ReadFileOrEmpty(dir_ + "/server.log");
  EXPECT_NE(log.find("agent 'node2' missed its heartbeats: marked down"),
            std::string::npos);
  EXPECT_NE(log.find("agent 'node2' expired: removed"), std::string::npos);
}

TEST_F(RmDaemonsTest, UnknownKeyIsRefusedAndLogged) {
  StartAgent("node1", "stranger", "test:///default");
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadFileOrEmpty(dir_ + "/server.log")
                   .find("refused CURVE client key " + stranger_pub_) !=
               std::string::npos;
      },
      milliseconds(5000)))
      << ReadFileOrEmpty(dir_ + "/server.log");
  auto agents = Ask(QueryRequest::Kind::kAgents);
  ASSERT_TRUE(agents.ok());
  EXPECT_TRUE(agents->empty());
  // The secret key never reaches a log.
  const std::string secret =
      FirstLine(ReadFileOrEmpty(dir_ + "/stranger.secret"));
  EXPECT_EQ(ReadFileOrEmpty(dir_ + "/server.log").find(secret),
            std::string::npos);
  EXPECT_EQ(ReadFileOrEmpty(dir_ + "/agent-node1.log").find(secret),
            std::string::npos);
}

TEST_F(RmDaemonsTest, AgentCannotSpeakForAnotherHost) {
  // node2's key, claiming to be node1.
  StartAgent("node1", "node2", "test:///default");
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadFileOrEmpty(dir_ + "/server.log")
                   .find("agent 'node2' tried to register as 'node1'") !=
               std::string::npos;
      },
      milliseconds(5000)))
      << ReadFileOrEmpty(dir_ + "/server.log");
  auto agents = Ask(QueryRequest::Kind::kAgents);
  ASSERT_TRUE(agents.ok());
  EXPECT_TRUE(agents->empty());
}

// A second rm-server whose --endpoints-file cannot be written exits 1 and
// says why, instead of serving endpoints nobody can learn.
TEST_F(RmDaemonsTest, UnwritableEndpointsFileFailsTheStart) {
  const std::string path = dir_ + "/missing/endpoints";
  StatusOr<CommandResult> r = RunCommand(
      Argv({kServerBin, "--agent-endpoint", "tcp://127.0.0.1:*",
            "--query-endpoint", "tcp://127.0.0.1:*", "--key", dir_ + "/server",
            "--agents", dir_ + "/agents.list", "--admins",
            dir_ + "/admins.list", "--endpoints-file", path}),
      milliseconds(10000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_status, 1) << r->err;
  EXPECT_NE(r->err.find("--endpoints-file: io: cannot create " + path +
                        ".tmp.XXXXXX: No such file or directory"),
            std::string::npos)
      << r->err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/missing"));
}

}  // namespace
}  // namespace tvd::rm
