// tvdctl's requests to a list of master replicas
// (protocol/failover_admin_client.h): the order tried, what moves on (no
// connection) and what is final (any answer), the errors when no master accepts
// the connection, and the master list in tvdctl's settings.
#include <gtest/gtest.h>

#include <map>

#include "tvd/protocol/failover_admin_client.h"
#include "tvd/tvdctl/tvd_command.h"

namespace tvd::tvdctl {
namespace {

using daemon::Endpoint;
using protocol::AskFirstReachable;
using protocol::MasterAttempt;
using protocol::TryMaster;

const std::vector<Endpoint> kThree = {
    {"127.0.0.1", 7401}, {"127.0.0.2", 7402}, {"::1", 7403}};

// Answers by endpoint; records the order asked.
struct ScriptedMasters {
  std::map<std::string, MasterAttempt> by_master;
  std::vector<std::string> asked;
  TryMaster Try() {
    return [this](const Endpoint& e) {
      asked.push_back(e.ToString());
      auto it = by_master.find(e.ToString());
      if (it == by_master.end()) {
        return MasterAttempt{false,
                             Unavailable("cannot connect to " + e.ToString() +
                                         ": Connection refused")};
      }
      return it->second;
    };
  }
};

TEST(AskFirstReachableTest, TheFirstMasterThatAcceptsTheConnectionAnswers) {
  ScriptedMasters m;
  m.by_master["127.0.0.2:7402"] = {true, std::string("{\"tvds\":[]}")};
  m.by_master["[::1]:7403"] = {true, std::string("{\"never\":1}")};
  auto r = AskFirstReachable(kThree, m.Try());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "{\"tvds\":[]}");
  EXPECT_EQ(m.asked,
            (std::vector<std::string>{"127.0.0.1:7401", "127.0.0.2:7402"}));
}

// A TLS handshake cut or timed out, or a server with another identity,
// never saw the request: the next master is asked.
TEST(AskFirstReachableTest, AFailedHandshakeMovesOn) {
  ScriptedMasters m;
  m.by_master["127.0.0.1:7401"] = {
      false, Unauthenticated("TLS handshake failed: peer closed the "
                             "connection")};
  m.by_master["127.0.0.2:7402"] = {
      false, Timeout("TLS handshake timed out after 15000 ms")};
  m.by_master["[::1]:7403"] = {true, std::string("{}")};
  EXPECT_EQ(*AskFirstReachable(kThree, m.Try()), "{}");
  EXPECT_EQ(m.asked.size(), 3u);
}

// An error answer is final: the first master may have applied the request.
TEST(AskFirstReachableTest, AnErrorAnswerIsFinal) {
  ScriptedMasters m;
  m.by_master["127.0.0.1:7401"] = {
      true, AlreadyExists("peer: TVD green already exists")};
  m.by_master["127.0.0.2:7402"] = {true, std::string("{\"added\":\"green\"}")};
  EXPECT_EQ(AskFirstReachable(kThree, m.Try()).status(),
            AlreadyExists("peer: TVD green already exists"));
  EXPECT_EQ(m.asked, std::vector<std::string>{"127.0.0.1:7401"});
  // So is a lost answer: the request went out.
  m.asked.clear();
  m.by_master["127.0.0.1:7401"] = {true, Unavailable("channel is closed")};
  EXPECT_EQ(AskFirstReachable(kThree, m.Try()).status(),
            Unavailable("channel is closed"));
  EXPECT_EQ(m.asked, std::vector<std::string>{"127.0.0.1:7401"});
}

TEST(AskFirstReachableTest, NoMasterAcceptsTheConnection) {
  ScriptedMasters m;
  // One master: its own error, as before lists existed.
  EXPECT_EQ(AskFirstReachable({kThree[0]}, m.Try()).status(),
            Unavailable("cannot connect to 127.0.0.1:7401: Connection "
                        "refused"));
  // Several: each named; the shared code stays.
  EXPECT_EQ(
      AskFirstReachable({kThree[0], kThree[2]}, m.Try()).status(),
      Unavailable("no master accepted the connection: 127.0.0.1:7401: cannot "
                  "connect to 127.0.0.1:7401: Connection refused; [::1]:7403: "
                  "cannot connect to [::1]:7403: Connection refused"));
  m.by_master["127.0.0.1:7401"] = {
      false, Unauthenticated("server is host:node9, expected host:tvd-master")};
  m.by_master["127.0.0.2:7402"] = {
      false, Unauthenticated("peer certificate rejected: certificate has "
                             "expired")};
  EXPECT_EQ(AskFirstReachable({kThree[0], kThree[1]}, m.Try()).status(),
            Unauthenticated("no master accepted the connection: "
                            "127.0.0.1:7401: server is host:node9, expected "
                            "host:tvd-master; 127.0.0.2:7402: peer certificate "
                            "rejected: certificate has expired"));
  // Codes that differ: unreachable as a whole.
  EXPECT_EQ(AskFirstReachable(kThree, m.Try()).status().code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(AskFirstReachable({}, m.Try()).status(),
            FailedPrecondition("no master configured"));
}

TEST(MasterListTest, TheSettingTakesAList) {
  MasterConnection c;
  c.master = "127.0.0.1:7401, 127.0.0.2:7402,[::1]:7403";
  EXPECT_EQ(*MasterList(c), kThree);
  c.master = "127.0.0.1:7401";
  EXPECT_EQ(*MasterList(c), (std::vector<Endpoint>{kThree[0]}));
}

TEST(MasterListTest, ResolveConnectionRefusesABadList) {
  auto env = [](std::string master) -> EnvLookup {
    return [master](const char* name) -> std::optional<std::string> {
      if (std::string(name) == "TVD_MASTER") return master;
      if (std::string(name) == "TVDCTL_ADMIN_CONFIG") return std::nullopt;
      if (std::string(name).starts_with("TVD_ADMIN_")) return "x";
      return std::nullopt;
    };
  };
  auto resolve = [&](const std::string& master) {
    auto inv = ParseTvdArgs({"list", "--config", "/dev/null"});
    EXPECT_TRUE(inv.ok());
    return ResolveConnection(*inv, env(master));
  };
  EXPECT_TRUE(resolve("127.0.0.1:1,127.0.0.2:1").ok());
  // One entry: the same error as before lists existed.
  EXPECT_EQ(resolve("127.0.0.1:0"),
            InvalidArgument("'127.0.0.1:0' does not end in a port 1..65535"));
  EXPECT_EQ(resolve("127.0.0.1:1,127.0.0.1:1"),
            InvalidArgument("'127.0.0.1:1,127.0.0.1:1': entry 2 "
                            "(127.0.0.1:1) repeats entry 1"));
  EXPECT_EQ(resolve("127.0.0.1:1,,127.0.0.2:1"),
            InvalidArgument("'127.0.0.1:1,,127.0.0.2:1': entry 2 is empty"));
  EXPECT_EQ(resolve("127.0.0.1:1,master.vdc:1"),
            InvalidArgument("'127.0.0.1:1,master.vdc:1': entry 2: "
                            "'master.vdc:1' does not start with an IP "
                            "address"));
  std::string seventeen;
  for (int i = 1; i <= 17; ++i) {
    seventeen +=
        (i > 1 ? "," : "") + std::string("127.0.0.") + std::to_string(i) + ":1";
  }
  EXPECT_EQ(
      resolve(seventeen),
      InvalidArgument("'" + seventeen + "' lists 17 endpoints; at most 16"));
}

}  // namespace
}  // namespace tvd::tvdctl
