// `tvdctl master status`: argument parsing with exact errors, and the
// table and JSON rendering of replicas' answers (up, down, odd JSON).
#include "tvd/tvdctl/master_command.h"

#include <gtest/gtest.h>

#include <sstream>

namespace tvd::tvdctl {
namespace {

using nlohmann::json;

TEST(MasterArgsTest, MastersRepeatedOrCommaSeparated) {
  auto inv =
      ParseMasterArgs({"status", "--master", "127.0.0.1:7400,[::1]:7401",
                       "--master=10.0.0.3:7402", "--json", "--ca", "/ca.pem"});
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->masters,
            (std::vector<std::string>{"127.0.0.1:7400", "[::1]:7401",
                                      "10.0.0.3:7402"}));
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(inv->connection.connection.ca, "/ca.pem");
  inv = ParseMasterArgs({"status"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->masters.empty());
  EXPECT_TRUE(ParseMasterArgs({"--help"})->help);
}

TEST(MasterArgsTest, ExactErrors) {
  auto err = [](std::vector<std::string> args) {
    return ParseMasterArgs(args).status().ToString();
  };
  EXPECT_EQ(err({}), "invalid-argument: missing COMMAND (status)");
  EXPECT_EQ(err({"list"}), "invalid-argument: unknown command 'list' (status)");
  EXPECT_EQ(err({"status", "x"}), "invalid-argument: unexpected argument 'x'");
  EXPECT_EQ(err({"status", "--colour"}),
            "invalid-argument: unknown option '--colour'");
  EXPECT_EQ(err({"status", "--master"}),
            "invalid-argument: --master needs a value");
  EXPECT_EQ(err({"status", "--master", "127.0.0.1:7400,"}),
            "invalid-argument: '127.0.0.1:7400,': entry 2 is empty");
  EXPECT_EQ(err({"status", "--master", "127.0.0.1:7400,,127.0.0.1:1"}),
            "invalid-argument: '127.0.0.1:7400,,127.0.0.1:1': entry 2 is "
            "empty");
  EXPECT_EQ(
      err({"status", "--master", "127.0.0.1:7400", "--master=127.0.0.1:7400"}),
      "invalid-argument: '127.0.0.1:7400,127.0.0.1:7400': entry 2 "
      "(127.0.0.1:7400) repeats entry 1");
  EXPECT_FALSE(ParseMasterArgs({"status", "--master", "master:7400"}).ok());
}

json Ovsdb(bool held, bool leader, std::int64_t index) {
  return {{"store", "ovsdb"},
          {"members", 4},
          {"connected_members", 3},
          {"duties", {{"running", true}, {"held", held}}},
          {"lock", {{"name", "tvd_master_duties"}, {"held", held}}},
          {"store_server",
           {{"model", "clustered"},
            {"leader", leader},
            {"connected", true},
            {"index", index}}}};
}

TEST(MasterRenderTest, OneLinePerReplica) {
  std::vector<ReplicaAnswer> answers;
  answers.push_back({"10.0.0.1:7400", Ovsdb(true, true, 1234)});
  answers.push_back({"10.0.0.2:7400", Ovsdb(false, false, 1230)});
  answers.push_back(
      {"10.0.0.3:7400",
       Unavailable("connecting to 10.0.0.3:7400: Connection refused")});
  answers.push_back({"10.0.0.4:7400", Timeout("TLS handshake")});
  answers.push_back({"10.0.0.5:7400", json{{"store", "sqlite"},
                                           {"members", 1},
                                           {"connected_members", 1},
                                           {"duties", {{"held", true}}},
                                           {"store_server", nullptr}}});
  answers.push_back({"10.0.0.6:7400", json{{"store", 7}, {"duties", "x"}}});
  std::ostringstream out;
  RenderMasterStatus(answers, out);
  EXPECT_EQ(out.str(),
            "MASTER         STATE  LOCK  CHANNELS  STORE   ROLE      INDEX  "
            "NOTE\n"
            "10.0.0.1:7400  up     yes   3/4       ovsdb   leader    1234\n"
            "10.0.0.2:7400  up     no    3/4       ovsdb   follower  1230\n"
            "10.0.0.3:7400  down   -     -         -       -         -      "
            "connection refused\n"
            "10.0.0.4:7400  down   -     -         -       -         -      "
            "timeout\n"
            "10.0.0.5:7400  up     yes   1/1       sqlite  -         -\n"
            "10.0.0.6:7400  up     -     -/-       -       -         -\n");
  json j = MasterStatusJson(answers);
  ASSERT_EQ(j["masters"].size(), 6u);
  EXPECT_EQ(j["masters"][0]["status"]["store_server"]["index"], 1234);
  EXPECT_EQ(j["masters"][2], (json{{"address", "10.0.0.3:7400"},
                                   {"up", false},
                                   {"error", "connection refused"}}));
  EXPECT_EQ(j["masters"][3]["error"], "timeout");
}

}  // namespace
}  // namespace tvd::tvdctl
