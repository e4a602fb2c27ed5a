// The OVSDB client against a scripted server on a UNIX socket: answering the
// server's echo while waiting, per-operation errors, malformed replies.
#include "tvd/vswitch/ovsdb/ovsdb_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "tvd/testing/scripted_unix_server.h"

namespace tvd::vswitch {
namespace {

// Accepts one connection and runs `script` on it.
class ScriptedServer : public tvd::testing::ScriptedUnixServer {
 public:
  explicit ScriptedServer(std::function<void(int fd)> script)
      : ScriptedUnixServer("ovsdb", std::move(script)) {}

  // What the server has received and not yet taken: one read may return
  // several messages the client sent back to back.
  struct Inbox {
    JsonRpcDecoder decoder;
    std::vector<JsonRpcMessage> pending;
  };

  // Returns the next complete JSON-RPC message (empty if the client hung up).
  static JsonRpcMessage Read(int fd, Inbox& in) {
    char buf[4096];
    while (in.pending.empty()) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) return {};
      EXPECT_TRUE(in.decoder.Feed(std::string_view(buf, n), &in.pending).ok());
    }
    JsonRpcMessage first = std::move(in.pending.front());
    in.pending.erase(in.pending.begin());
    return first;
  }
};

TEST(OvsdbClientUnitTest, AnswersServerEchoWhileWaitingForTransact) {
  ScriptedServer server([](int fd) {
    ScriptedServer::Inbox d;
    JsonRpcMessage req = ScriptedServer::Read(fd, d);
    EXPECT_EQ(req.method, "transact");
    ScriptedServer::Write(fd,
                          EncodeJsonRpcRequest("echo", Json::array(), "e1"));
    JsonRpcMessage echo_reply = ScriptedServer::Read(fd, d);
    EXPECT_EQ(echo_reply.kind, JsonRpcMessage::Kind::kResponse);
    EXPECT_EQ(echo_reply.id, "e1");
    ScriptedServer::Write(
        fd, EncodeJsonRpcResponse(
                Json::array({Json::object(),
                             {{"error", "referential integrity violation"},
                              {"details", "row is still referenced"}}}),
                req.id));
  });
  auto client = OvsdbClient::Connect({.socket_path = server.path()});
  ASSERT_TRUE(client.ok());
  Json ops = Json::array({{{"op", "comment"}, {"comment", "x"}},
                          {{"op", "delete"}, {"table", "Bridge"}}});
  auto r = (*client)->Transact("Open_vSwitch", ops);
  EXPECT_EQ(r.status(),
            FailedPrecondition("OVSDB transaction failed at operation 1 "
                               "(delete Bridge): referential integrity "
                               "violation: row is still referenced"));
  EXPECT_EQ((*client)->echo_replies_sent(), 1u);
}

TEST(OvsdbClientUnitTest, MalformedReplyIsAProtocolError) {
  ScriptedServer server([](int fd) {
    ScriptedServer::Inbox d;
    ScriptedServer::Read(fd, d);
    ScriptedServer::Write(fd, R"({"id":1,"result":[}})");
  });
  auto client = OvsdbClient::Connect({.socket_path = server.path()});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Transact("Open_vSwitch", Json::array());
  EXPECT_EQ(r.status().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.status().message(),
            "OVSDB transact: from OVSDB at " + server.path() +
                ": JSON-RPC message at byte 0: invalid JSON");
  EXPECT_FALSE((*client)->connected());
}

TEST(OvsdbClientUnitTest, NoServerIsUnavailable) {
  auto r = OvsdbClient::Connect(
      {.socket_path = ::testing::TempDir() + "/no-such-ovsdb.sock"});
  EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
}

TEST(OvsdbClientUnitTest,
     TcpRemotesAreCheckedAndRefusedConnectionsUnavailable) {
  auto connect = [](const std::string& where) {
    OvsdbClient::Options o;
    o.socket_path = where;
    return OvsdbClient::Connect(o).status();
  };
  EXPECT_EQ(connect("tcp:127.0.0.1"),
            InvalidArgument("OVSDB remote 'tcp:127.0.0.1' is not tcp:IP:PORT"));
  EXPECT_EQ(connect("tcp:127.0.0.1:65536"),
            InvalidArgument("OVSDB remote 'tcp:127.0.0.1:65536' is not "
                            "tcp:IP:PORT"));
  EXPECT_EQ(connect("tcp:db.example:6640"),
            InvalidArgument("'db.example' is not a numeric IP address"));
  // Port 1 on loopback: nobody listens (a privileged port tests never use).
  EXPECT_EQ(connect("tcp:127.0.0.1:1"),
            Unavailable("cannot connect to 127.0.0.1 port 1: Connection "
                        "refused"));
  EXPECT_EQ(connect("tcp:[::1]:1").code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace tvd::vswitch
