// ViciClient against a real charon in its own network namespace: every
// command the backend relies on, charon's own errors, and malformed input.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "tvd/testing/charon.h"
#include "tvd/testing/netns.h"
#include "tvd/vswitch/vici/client.h"

namespace tvd::vici {
namespace {

using tvd::testing::CharonInstance;
using tvd::testing::NetworkNamespace;

class CharonClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<NetworkNamespace> ns =
        NetworkNamespace::Create(tvd::testing::UniqueName("tvc"));
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = new NetworkNamespace(std::move(ns).value());
    StatusOr<std::unique_ptr<CharonInstance>> c = CharonInstance::Start(*ns_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    charon_ = c->release();
  }
  static void TearDownTestSuite() {
    delete charon_;
    charon_ = nullptr;
    delete ns_;
    ns_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(charon_, nullptr);
    ClientOptions o;
    o.socket_path = charon_->vici_socket();
    StatusOr<ViciClientPtr> c = ViciClient::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
  }

  static Message Conn(const std::string& child) {
    Message conn;
    conn.Add("version", "2");
    conn.AddList("local_addrs", {"198.18.7.1"});
    conn.AddList("remote_addrs", {"198.18.7.2"});
    conn.AddSection("local").Add("auth", "psk").Add("id", "x@a");
    conn.AddSection("remote").Add("auth", "psk").Add("id", "x@b");
    Message& c = conn.AddSection("children").AddSection(child);
    c.AddList("local_ts", {"198.18.7.1/32[udp]"});
    c.AddList("remote_ts", {"198.18.7.2/32[udp/49153]"});
    return conn;
  }

  static NetworkNamespace* ns_;
  static CharonInstance* charon_;
  ViciClientPtr client_;
};

NetworkNamespace* CharonClientTest::ns_ = nullptr;
CharonInstance* CharonClientTest::charon_ = nullptr;

TEST_F(CharonClientTest, VersionNamesCharon) {
  StatusOr<Message> v = client_->Version();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ValueOr("daemon", ""), "charon");
  EXPECT_EQ(v->ValueOr("version", "").rfind("5.", 0), 0u) << v->DebugString();
}

TEST_F(CharonClientTest, LoadListAndUnloadConnection) {
  const std::string name = "tvd-cc-" + tvd::testing::UniqueName("c");
  ASSERT_TRUE(client_->LoadConn(name, Conn(name + "-out")).ok());
  StatusOr<std::vector<std::string>> conns = client_->GetConns();
  ASSERT_TRUE(conns.ok()) << conns.status().ToString();
  EXPECT_NE(std::find(conns->begin(), conns->end(), name), conns->end());

  StatusOr<std::vector<Message>> listed = client_->ListConns(name);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  const Message* conn = (*listed)[0].Section(name);
  ASSERT_NE(conn, nullptr) << (*listed)[0].DebugString();
  const Message* child = conn->Section("children")->Section(name + "-out");
  ASSERT_NE(child, nullptr) << conn->DebugString();
  EXPECT_EQ(*child->List("remote-ts"),
            std::vector<std::string>{"198.18.7.2/32[udp/49153]"});

  ASSERT_TRUE(client_->UnloadConn(name).ok());
  conns = client_->GetConns();
  ASSERT_TRUE(conns.ok());
  EXPECT_EQ(std::find(conns->begin(), conns->end(), name), conns->end());
  EXPECT_EQ(client_->UnloadConn(name),
            NotFound("vici unload-conn: unload: connection '" + name +
                     "' not found"));
}

TEST_F(CharonClientTest, CharonRefusesABadConnectionWithItsReason) {
  Message conn = Conn("c");
  conn.Add("proposals", "no-such-algorithm");
  Status st = client_->LoadConn("tvd-bad", conn);
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("vici load-conn 'tvd-bad': "), std::string::npos)
      << st.ToString();
  EXPECT_NE(st.message().find("proposals"), std::string::npos) << st.ToString();
  StatusOr<std::vector<std::string>> conns = client_->GetConns();
  ASSERT_TRUE(conns.ok());
  EXPECT_EQ(std::find(conns->begin(), conns->end(), "tvd-bad"), conns->end());
}

TEST_F(CharonClientTest, SharedKeyLoadsListsAndUnloads) {
  const std::string id = "tvd-key-" + tvd::testing::UniqueName("k");
  SecureBytes key = SecureBytes::Random(32);
  ASSERT_TRUE(client_->LoadShared(id, "IKE", key.view(), {"x@a", "x@b"}).ok());
  StatusOr<std::vector<std::string>> keys = client_->GetShared();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_NE(std::find(keys->begin(), keys->end(), id), keys->end());
  ASSERT_TRUE(client_->UnloadShared(id).ok());
  keys = client_->GetShared();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(std::find(keys->begin(), keys->end(), id), keys->end());
  // charon answers success for an id it does not hold, which is why the
  // backend consults get-shared before deciding a tunnel is absent.
  EXPECT_TRUE(client_->UnloadShared(id).ok());
  // The secret never reaches charon's log.
  std::string log = charon_->LogTail(10000);
  std::string secret(reinterpret_cast<const char*>(key.data()), key.size());
  EXPECT_EQ(log.find(secret), std::string::npos);
}

TEST_F(CharonClientTest, UnknownCommandAndEventAreNotFound) {
  EXPECT_EQ(client_->Call("no-such-command", Message()).status(),
            NotFound("vici: charon does not know command 'no-such-command'"));
  EXPECT_EQ(client_->Subscribe("no-such-event", nullptr),
            NotFound("vici: charon has no event 'no-such-event'"));
  // The connection is still usable.
  EXPECT_TRUE(client_->Version().ok());
}

TEST_F(CharonClientTest, InitiatingWithNoPeerFailsWithCharonsReason) {
  const std::string name = "tvd-np-" + tvd::testing::UniqueName("n");
  ASSERT_TRUE(client_->LoadConn(name, Conn(name + "-out")).ok());
  std::vector<std::string> log;
  Status st =
      client_->Initiate(name + "-out", name, std::chrono::seconds(8),
                        [&](const std::string& l) { log.push_back(l); });
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("vici initiate '" + name + "-out': "),
            std::string::npos)
      << st.ToString();
  EXPECT_FALSE(log.empty());  // control-log events were streamed
  EXPECT_TRUE(client_->UnloadConn(name).ok());
}

TEST_F(CharonClientTest, ReconnectsAfterCharonRestart) {
  ASSERT_TRUE(client_->Subscribe("ike-updown", nullptr).ok());
  ASSERT_TRUE(charon_->Restart().ok()) << charon_->LogTail();
  StatusOr<Message> v = client_->Version();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ValueOr("daemon", ""), "charon");
}

// Raw bytes straight at charon's socket: charon must survive malformed
// framing, and our client must keep working afterwards.
TEST_F(CharonClientTest, CharonSurvivesMalformedInput) {
  for (const std::vector<std::uint8_t>& junk :
       std::vector<std::vector<std::uint8_t>>{
           {0, 0, 0, 3, 0, 9, 'v'},            // truncated command name
           {0, 0, 0, 2, 1, 2},                 // unbalanced section end
           {0, 0, 0, 5, 9, 1, 2, 3, 4},        // unknown packet type
           {0x7f, 0xff, 0xff, 0xff, 0, 1}}) {  // oversize segment
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, charon_->vici_socket().c_str(),
                 sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              0);
    (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  EXPECT_TRUE(charon_->Running());
  EXPECT_TRUE(client_->Version().ok());
}

TEST_F(CharonClientTest, FixtureStopsByPidAndRemovesItsDirectory) {
  // A second charon in the same namespace: its own mount namespace keeps its
  // pid file apart from the first one's.
  StatusOr<std::unique_ptr<CharonInstance>> c = CharonInstance::Start(*ns_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const pid_t pid = (*c)->pid();
  const std::string dir = (*c)->dir();
  EXPECT_TRUE(std::filesystem::exists(dir + "/run/charon.pid"));
  EXPECT_FALSE(
      std::filesystem::exists("/run/charon.pid") &&
      std::filesystem::exists(dir + "/run/charon.pid") &&
      std::filesystem::equivalent("/run/charon.pid", dir + "/run/charon.pid"));
  c->reset();
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(charon_->Running());
}

}  // namespace
}  // namespace tvd::vici
