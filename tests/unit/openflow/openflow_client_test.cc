// The OpenFlow client against a scripted switch on a UNIX socket: version
// negotiation, answering the switch's ECHO while waiting for a barrier, and
// a switch ERROR turned into a Status naming the flow.
#include "tvd/vswitch/openflow/openflow_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "tvd/testing/scripted_unix_server.h"

namespace tvd::vswitch {
namespace {

using openflow::Decoder;
using openflow::Message;
using openflow::MsgType;

class ScriptedSwitch : public tvd::testing::ScriptedUnixServer {
 public:
  explicit ScriptedSwitch(std::function<void(int fd)> script)
      : ScriptedUnixServer("of", std::move(script)) {}

  // What the switch has received and not yet taken: the client may send
  // several messages before the script reads (one read can return them all).
  struct Inbox {
    Decoder decoder;
    std::vector<Message> pending;
  };

  // Returns the next `n` messages (fewer only if the client hung up).
  static std::vector<Message> Read(int fd, Inbox& in, std::size_t n) {
    char buf[4096];
    while (in.pending.size() < n) {
      ssize_t got = ::read(fd, buf, sizeof(buf));
      if (got <= 0) break;
      EXPECT_TRUE(
          in.decoder.Feed(std::string_view(buf, got), &in.pending).ok());
    }
    std::size_t take = std::min(n, in.pending.size());
    std::vector<Message> out(in.pending.begin(), in.pending.begin() + take);
    in.pending.erase(in.pending.begin(), in.pending.begin() + take);
    return out;
  }
};

// A header of type `type` with version 4.
std::string Msg(MsgType type, std::uint32_t xid, const std::string& body) {
  std::string m = openflow::EncodeEchoReply(xid, body);
  m[1] = static_cast<char>(type);
  return m;
}

TEST(OpenFlowClientUnitTest, AnswersEchoAndReportsTheSwitchError) {
  ScriptedSwitch sw([](int fd) {
    ScriptedSwitch::Inbox d;
    std::string hello = openflow::EncodeHello(1);
    hello[0] = 6;  // the switch announces OpenFlow 1.5
    ScriptedSwitch::Write(fd, hello);
    auto first = ScriptedSwitch::Read(fd, d, 1);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].type, MsgType::kHello);
    // Two FLOW_MODs and a BARRIER.
    auto batch = ScriptedSwitch::Read(fd, d, 3);
    ASSERT_EQ(batch.size(), 3u);
    EXPECT_EQ(batch[0].type, MsgType::kFlowMod);
    EXPECT_EQ(batch[2].type, MsgType::kBarrierRequest);
    ScriptedSwitch::Write(fd, openflow::EncodeEchoRequest(77, "ping"));
    auto echo = ScriptedSwitch::Read(fd, d, 1);
    ASSERT_EQ(echo.size(), 1u);
    EXPECT_EQ(echo[0].type, MsgType::kEchoReply);
    EXPECT_EQ(echo[0].xid, 77u);
    EXPECT_EQ(echo[0].body, "ping");
    // The second flow is refused: BAD_MATCH / BAD_PREREQ.
    ScriptedSwitch::Write(fd, Msg(MsgType::kError, batch[1].xid,
                                  std::string("\x00\x04\x00\x09", 4)));
    ScriptedSwitch::Write(fd, Msg(MsgType::kBarrierReply, batch[2].xid, ""));
  });
  auto client = OpenFlowClient::Connect({.socket_path = sw.path()});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  openflow::Flow a;
  openflow::Flow b;
  b.priority = 5;
  EXPECT_EQ((*client)->AddFlows({a, b}),
            FailedPrecondition(
                "switch refused flow add #1: BAD_MATCH/BAD_PREREQ (4/9)"));
}

TEST(OpenFlowClientUnitTest, SwitchBelowOpenFlow13IsRefused) {
  ScriptedSwitch sw([](int fd) {
    std::string hello = openflow::EncodeHello(1);
    hello[0] = 1;
    ScriptedSwitch::Write(fd, hello);
    ScriptedSwitch::Inbox d;
    ScriptedSwitch::Read(fd, d, 1);
  });
  auto client = OpenFlowClient::Connect({.socket_path = sw.path()});
  EXPECT_EQ(client.status(),
            ProtocolError("switch at " + sw.path() +
                          " speaks OpenFlow version 1, need 1.3 (4)"));
}

}  // namespace
}  // namespace tvd::vswitch
