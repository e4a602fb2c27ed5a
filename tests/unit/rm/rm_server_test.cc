// The server and agent over loopback TCP with CURVE, in one process; node
// status and domains come from fakes.
#include "tvd/rm/rm_server.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <functional>
#include <mutex>
#include <thread>

#include "tvd/rm/query_client.h"
#include "tvd/rm/rm_agent.h"
#include "tvd/testing/files.h"

namespace tvd::rm {
namespace {

using std::chrono::milliseconds;

class FakeDomainSource : public DomainSource {
 public:
  void Set(std::vector<LocalDomain> d) {
    std::lock_guard lock(mu_);
    domains_ = std::move(d);
  }
  StatusOr<std::vector<LocalDomain>> ListDomains() override {
    std::lock_guard lock(mu_);
    return domains_;
  }

 private:
  std::mutex mu_;
  std::vector<LocalDomain> domains_;
};

class FakeNodeStatus : public NodeStatusSource {
 public:
  StatusOr<NodeStatus> ReadStatus() override {
    return NodeStatus{8, 0.75, 32000, 16000, 8, 16000};
  }
};

CurveKeyPair NewKeys() {
  StatusOr<CurveKeyPair> k = GenerateCurveKeyPair();
  EXPECT_TRUE(k.ok());
  return std::move(k).value();
}

bool WaitFor(const std::function<bool()>& done, milliseconds timeout) {
  return ::tvd::testing::WaitFor(done, timeout, milliseconds(10));
}

// A server on ephemeral loopback ports, running in its own thread.
class ServerHarness {
 public:
  ServerHarness(AllowList agents, AllowList admins, LivenessPolicy liveness) {
    RmServerConfig config;
    config.agent_endpoint = "tcp://127.0.0.1:*";
    config.query_endpoint = "tcp://127.0.0.1:*";
    config.server_keys = NewKeys();
    config.agents = std::move(agents);
    config.admins = std::move(admins);
    config.liveness = liveness;
    config.tick = milliseconds(20);
    StatusOr<std::unique_ptr<RmServer>> s = RmServer::Create(std::move(config));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { EXPECT_TRUE(server_->Run().ok()); });
  }
  ~ServerHarness() {
    server_->RequestStop();
    thread_.join();
  }
  RmServer& server() { return *server_; }

 private:
  std::unique_ptr<RmServer> server_;
  std::thread thread_;
};

class RmServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = NewKeys();
    for (const char* host : {"host-a", "host-b"}) {
      agent_keys_[host] = NewKeys();
      agents_[agent_keys_[host].public_z85] = host;
    }
    harness_ = std::make_unique<ServerHarness>(
        agents_, AllowList{{admin_.public_z85, "admin"}}, Liveness());
    StatusOr<std::unique_ptr<RmQueryClient>> c = RmQueryClient::Connect(
        server().query_endpoint(), server().public_key(), admin_);
    ASSERT_TRUE(c.ok());
    query_ = std::move(c).value();
  }
  void TearDown() override {
    query_.reset();
    harness_.reset();
  }

  RmServer& server() { return harness_->server(); }

  // Long enough that no agent goes down by accident in a test.
  virtual LivenessPolicy Liveness() {
    return LivenessPolicy{milliseconds(2000), 3, milliseconds(30000)};
  }

  StatusOr<nlohmann::json> Ask(QueryRequest::Kind kind, std::string host = "",
                               std::string domain = "") {
    return query_->Query(QueryRequest{kind, std::move(host), std::move(domain)},
                         milliseconds(10000));
  }
  std::size_t AgentCount() {
    StatusOr<nlohmann::json> a = Ask(QueryRequest::Kind::kAgents);
    return a.ok() ? a->size() : 0;
  }

  RmAgentConfig AgentConfig(const std::string& host, CurveKeyPair keys) {
    RmAgentConfig c;
    c.server_endpoint = server().agent_endpoint();
    c.server_public_z85 = server().public_key();
    c.agent_keys = std::move(keys);
    c.host = host;
    c.properties = {{"rack", "r1"}};
    c.report_interval = milliseconds(50);
    c.heartbeat_interval = milliseconds(20);
    return c;
  }

  // A raw CURVE DEALER, for messages a well-behaved agent never sends.
  zmq::socket_t RawAgent(const CurveKeyPair& keys) {
    zmq::socket_t s(context_, zmq::socket_type::dealer);
    EXPECT_TRUE(ConfigureCurveClient(s, keys, server().public_key()).ok());
    s.set(zmq::sockopt::linger, 0);
    s.connect(server().agent_endpoint());
    return s;
  }

  zmq::context_t context_{1};
  CurveKeyPair admin_;
  std::map<std::string, CurveKeyPair> agent_keys_;
  AllowList agents_;
  std::unique_ptr<ServerHarness> harness_;
  std::unique_ptr<RmQueryClient> query_;
};

LocalDomain Domain(std::string name, std::string tvd,
                   std::vector<std::string> nets, std::uint64_t vcpus) {
  return LocalDomain{DomainInfo{name, "uuid-" + name, "running", tvd, nets},
                     vcpus, 1024};
}

TEST_F(RmServerTest, AgentsRegisterReportAndUnregister) {
  FakeDomainSource doms_a, doms_b;
  FakeNodeStatus node;
  doms_a.Set({Domain("web", "blue", {"blue-data"}, 2)});
  auto a = RmAgent::Create(AgentConfig("host-a", agent_keys_["host-a"].Clone()),
                           doms_a, node);
  auto b = RmAgent::Create(AgentConfig("host-b", agent_keys_["host-b"].Clone()),
                           doms_b, node);
  ASSERT_TRUE(a.ok() && b.ok());
  std::thread ta([&] { EXPECT_TRUE((*a)->Run().ok()); });
  std::thread tb([&] { EXPECT_TRUE((*b)->Run().ok()); });
  EXPECT_TRUE(WaitFor([&] { return AgentCount() == 2; }, milliseconds(5000)));

  StatusOr<nlohmann::json> agents = Ask(QueryRequest::Kind::kAgents);
  ASSERT_TRUE(agents.ok()) << agents.status().ToString();
  EXPECT_EQ((*agents)[0]["host"], "host-a");
  EXPECT_EQ((*agents)[0]["properties"]["rack"], "r1");
  EXPECT_EQ((*agents)[1]["host"], "host-b");

  StatusOr<nlohmann::json> n = Ask(QueryRequest::Kind::kNode, "host-a");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)["status"]["cpus"], 8);
  EXPECT_EQ((*n)["status"]["free_vcpus"], 6);  // 8 minus web's 2
  StatusOr<nlohmann::json> d = Ask(QueryRequest::Kind::kDomains, "host-a");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0]["name"], "web");
  EXPECT_EQ((*d)[0]["tvd"], "blue");
  StatusOr<nlohmann::json> nets =
      Ask(QueryRequest::Kind::kNetworks, "host-a", "web");
  ASSERT_TRUE(nets.ok());
  EXPECT_EQ(*nets, nlohmann::json({"blue-data"}));
  EXPECT_EQ(Ask(QueryRequest::Kind::kNetworks, "host-a", "db").status(),
            NotFound("no domain 'db' on 'host-a'"));

  // A change on the host reaches the server with the next report.
  doms_a.Set({Domain("web", "blue", {"blue-data"}, 2),
              Domain("db", "red", {"red-a", "red-b"}, 1)});
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = Ask(QueryRequest::Kind::kNetworks, "host-a", "db");
        return r.ok() && *r == nlohmann::json({"red-a", "red-b"});
      },
      milliseconds(10000)));

  (*a)->RequestStop();
  ta.join();
  EXPECT_TRUE(WaitFor([&] { return AgentCount() == 1; }, milliseconds(10000)));
  EXPECT_EQ(Ask(QueryRequest::Kind::kNode, "host-a").status(),
            NotFound("no agent 'host-a'"));
  (*b)->RequestStop();
  tb.join();
  EXPECT_TRUE(WaitFor([&] { return AgentCount() == 0; }, milliseconds(10000)));
}

class RmServerShortLivenessTest : public RmServerTest {
 protected:
  LivenessPolicy Liveness() override {
    return LivenessPolicy{milliseconds(50), 3, milliseconds(400)};
  }
};

TEST_F(RmServerShortLivenessTest, SilentAgentIsMarkedDownThenExpires) {
  zmq::socket_t raw = RawAgent(agent_keys_["host-a"]);
  raw.send(zmq::str_buffer(
      R"({"v":1,"type":"register","host":"host-a","properties":{}})"));
  EXPECT_TRUE(WaitFor([&] { return AgentCount() == 1; }, milliseconds(10000)));
  // 3 x 50 ms of silence: down; 400 ms: gone.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto n = Ask(QueryRequest::Kind::kNode, "host-a");
        return n.ok() && (*n)["up"] == false;
      },
      milliseconds(10000)));
  EXPECT_TRUE(WaitFor([&] { return AgentCount() == 0; }, milliseconds(10000)));
}

TEST_F(RmServerTest, UnknownKeyIsRefusedAndLoggedByPublicKey) {
  FakeDomainSource doms;
  FakeNodeStatus node;
  CurveKeyPair stranger = NewKeys();
  const std::string stranger_public = stranger.public_z85;
  const std::string stranger_secret = Z85FromKey(stranger.secret.data());
  ::testing::internal::CaptureStderr();
  auto agent =
      RmAgent::Create(AgentConfig("host-a", std::move(stranger)), doms, node);
  ASSERT_TRUE(agent.ok());
  std::thread t([&] { EXPECT_TRUE((*agent)->Run().ok()); });
  EXPECT_TRUE(WaitFor([&] { return server().stats().refused_keys.load() >= 1; },
                      milliseconds(10000)));
  (*agent)->RequestStop();
  t.join();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("refused CURVE client key " + stranger_public),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(stranger_secret), std::string::npos);
  EXPECT_EQ(AgentCount(), 0u);
}

TEST_F(RmServerTest, ForgedKeyNeverRegisters) {
  // Claims host-a's public key without its secret key: the CURVE handshake
  // cannot be completed, so the server never sees a message.
  CurveKeyPair forged = NewKeys();
  forged.public_z85 = agent_keys_["host-a"].public_z85;
  zmq::socket_t raw = RawAgent(forged);
  raw.send(zmq::str_buffer(
      R"({"v":1,"type":"register","host":"host-a","properties":{}})"));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(AgentCount(), 0u);
  EXPECT_EQ(server().stats().agent_messages.load(), 0u);
}

TEST_F(RmServerTest, AgentKeyCannotQueryAndAdminKeyCannotReport) {
  auto c = RmQueryClient::Connect(server().query_endpoint(),
                                  server().public_key(), agent_keys_["host-a"]);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Query(QueryRequest{}, milliseconds(300)).status().code(),
            ErrorCode::kTimeout);
  zmq::socket_t raw = RawAgent(admin_);
  raw.send(zmq::str_buffer(
      R"({"v":1,"type":"register","host":"admin","properties":{}})"));
  EXPECT_TRUE(WaitFor([&] { return server().stats().refused_keys.load() >= 2; },
                      milliseconds(10000)));
  EXPECT_EQ(AgentCount(), 0u);
}

TEST_F(RmServerTest, MalformedMessagesChangeNothing) {
  zmq::socket_t raw = RawAgent(agent_keys_["host-a"]);
  raw.send(zmq::str_buffer(
      R"({"v":1,"type":"register","host":"host-a","properties":{"k":"v"}})"));
  raw.send(zmq::str_buffer(
      R"({"v":1,"type":"domains","domains":[{"name":"web","uuid":"u","state":"running","tvd":"blue","networks":["blue-data"]}]})"));
  ASSERT_TRUE(
      WaitFor([&] { return server().stats().agent_messages.load() == 2; },
              milliseconds(10000)));
  auto strip = [](nlohmann::json snap) {
    for (auto& a : snap) a.erase("last_seen_ms_ago");
    return snap;
  };
  StatusOr<nlohmann::json> before = Ask(QueryRequest::Kind::kSnapshot);
  ASSERT_TRUE(before.ok());

  const std::vector<std::string> bad = {
      "",
      "not json",
      "\xff\xfe",
      "[1,2,3]",
      R"({"v":2,"type":"heartbeat"})",
      R"({"v":1,"type":"register","host":"host-b","properties":{}})",
      R"({"v":1,"type":"domains","domains":[{"name":"x"}]})",
      R"({"v":1,"type":"domains","domains":{}})",
      R"({"v":1,"type":"status","status":{"cpus":"8"}})",
      std::string(200000, '['),
  };
  for (const std::string& b : bad) raw.send(zmq::buffer(b));
  // Two frames in one message.
  raw.send(zmq::str_buffer("{}"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer(R"({"v":1,"type":"heartbeat"})"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return server().stats().rejected_messages.load() == bad.size() + 1;
      },
      milliseconds(10000)))
      << server().stats().rejected_messages.load();
  // An oversized frame: libzmq drops the connection before decoding.
  raw.send(zmq::buffer(std::string(kMaxMessageBytes + 10, 'x')));
  std::this_thread::sleep_for(milliseconds(100));

  StatusOr<nlohmann::json> after = Ask(QueryRequest::Kind::kSnapshot);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(strip(*after), strip(*before));
  EXPECT_EQ(server().stats().agent_messages.load(), 2u);
  // Malformed queries get an error reply and change nothing either.
  zmq::socket_t q(context_, zmq::socket_type::dealer);
  ASSERT_TRUE(ConfigureCurveClient(q, admin_, server().public_key()).ok());
  q.set(zmq::sockopt::linger, 0);
  q.connect(server().query_endpoint());
  q.send(zmq::str_buffer(R"({"v":1,"query":"node"})"));
  zmq::message_t reply;
  ASSERT_TRUE(q.recv(reply));
  EXPECT_EQ(
      reply.to_string(),
      R"({"error":{"code":"invalid-argument","message":"rm message: node: missing field 'host'"},"ok":false,"v":1})");
}

TEST_F(RmServerTest, FiveHundredAgentsRegister) {
  constexpr int kAgents = 500;
  // Each simulated agent costs about three descriptors (its socket's
  // mailbox and both ends of its TCP connection).
  struct rlimit files {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_cur < 4096 && files.rlim_max > files.rlim_cur) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4096);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);
  }
  ASSERT_GE(files.rlim_cur, 4 * kAgents) << "too few file descriptors";
  AllowList many;
  std::vector<CurveKeyPair> keys;
  for (int i = 0; i < kAgents; ++i) {
    keys.push_back(NewKeys());
    many[keys.back().public_z85] = "sim-" + std::to_string(i);
  }
  // A server of its own with the 500 keys allow-listed.
  ServerHarness big(many, AllowList{{admin_.public_z85, "admin"}},
                    LivenessPolicy{milliseconds(5000), 3, milliseconds(30000)});
  auto client = RmQueryClient::Connect(big.server().query_endpoint(),
                                       big.server().public_key(), admin_);
  ASSERT_TRUE(client.ok());
  auto count = [&] {
    auto a = (*client)->Query(QueryRequest{}, milliseconds(10000));
    return a.ok() ? a->size() : 0;
  };
  std::vector<zmq::socket_t> sockets;
  for (int i = 0; i < kAgents; ++i) {
    zmq::socket_t s(context_, zmq::socket_type::dealer);
    ASSERT_TRUE(
        ConfigureCurveClient(s, keys[i], big.server().public_key()).ok());
    s.set(zmq::sockopt::linger, 0);
    s.connect(big.server().agent_endpoint());
    const std::string host = "sim-" + std::to_string(i);
    s.send(zmq::buffer(EncodeAgentMessage(RegisterMsg{host, {}})));
    s.send(zmq::buffer(
        EncodeAgentMessage(StatusMsg{NodeStatus{4, 0.1, 1000, 500, 4, 500}})));
    sockets.push_back(std::move(s));
  }
  EXPECT_TRUE(WaitFor([&] { return count() == kAgents; }, milliseconds(20000)));
  auto node =
      (*client)->Query(QueryRequest{QueryRequest::Kind::kNode, "sim-499", ""},
                       milliseconds(10000));
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)["status"]["cpus"], 4);
  for (zmq::socket_t& s : sockets) {
    s.send(zmq::buffer(EncodeAgentMessage(UnregisterMsg{})));
  }
  EXPECT_TRUE(WaitFor([&] { return count() == 0; }, milliseconds(10000)));
}

}  // namespace
}  // namespace tvd::rm
