// rm-server's and rm-agent's flags and start-up wiring (rm_daemons.h), as
// their mains run them.
#include "tvd/rm/rm_daemons.h"

#include <gtest/gtest.h>

#include "tvd/testing/temp_dir.h"

namespace tvd::rm {
namespace {

using std::chrono::milliseconds;

TEST(RmDaemonsTest, ServerFlags) {
  const std::vector<std::string> args = {"--agent-endpoint",
                                         "tcp://127.0.0.1:*",
                                         "--query-endpoint",
                                         "tcp://127.0.0.1:*",
                                         "--key",
                                         "/k",
                                         "--agents",
                                         "/a",
                                         "--admins",
                                         "/d"};
  auto f = daemon::ParseDaemonFlags(RmServerDaemonSpec(), args);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->heartbeat, milliseconds(1000));
  EXPECT_EQ(f->missed, 3);
  EXPECT_EQ(f->expiry, milliseconds(30000));
  std::vector<std::string> more = args;
  more.insert(more.end(),
              {"--heartbeat-ms", "200", "--missed", "5", "--expiry-ms", "2s"});
  f = daemon::ParseDaemonFlags(RmServerDaemonSpec(), more);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->heartbeat, milliseconds(200));
  EXPECT_EQ(f->missed, 5);
  EXPECT_EQ(f->expiry, milliseconds(2000));
  // --endpoints-file is the driver's address file, not a server option.
  more.insert(more.end(), {"--endpoints-file", "/e"});
  EXPECT_EQ(daemon::ParseDaemonFlags(RmServerDaemonSpec(), more).status(),
            InvalidArgument("unknown option '--endpoints-file'"));
  more = args;
  more.insert(more.end(), {"--heartbeat-ms", "0"});
  EXPECT_EQ(daemon::ParseDaemonFlags(RmServerDaemonSpec(), more).status(),
            InvalidArgument("--heartbeat-ms: '0' is not a duration in "
                            "1ms..86400000ms"));
  EXPECT_EQ(daemon::ParseDaemonFlags(RmServerDaemonSpec(), {}).status(),
            InvalidArgument("--agent-endpoint is required"));
}

TEST(RmDaemonsTest, AgentFlags) {
  const std::vector<std::string> args = {
      "--server",      "tcp://127.0.0.1:7501",
      "--server-key",  "/s.pub",
      "--key",         "/k",
      "--host",        "node1",
      "--libvirt-uri", "test:///default"};
  std::vector<std::string> more = args;
  more.insert(more.end(), {"--property", "rack=r1", "--property=zone=a=b",
                           "--report-ms", "500"});
  auto f = daemon::ParseDaemonFlags(RmAgentDaemonSpec(), more);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->properties, (std::map<std::string, std::string>{
                               {"rack", "r1"}, {"zone", "a=b"}}));
  EXPECT_EQ(f->report, milliseconds(500));
  EXPECT_EQ(f->heartbeat, milliseconds(1000));
  more = args;
  more.insert(more.end(), {"--property", "=x"});
  EXPECT_EQ(daemon::ParseDaemonFlags(RmAgentDaemonSpec(), more).status(),
            InvalidArgument("--property: expected KEY=VALUE, got '=x'"));
}

TEST(RmDaemonsTest, StartNamesTheMissingKey) {
  testing::TempDir dir;
  RmServerFlags s;
  s.agent_endpoint = s.query_endpoint = "tcp://127.0.0.1:*";
  s.key = dir.File("server");
  s.agents = dir.File("agents");
  s.admins = dir.File("admins");
  EXPECT_EQ(StartRmServer(s).status(),
            IoError("stat " + dir.File("server.secret") +
                    ": No such file or directory"));
  RmAgentFlags a;
  a.server = "tcp://127.0.0.1:1";
  a.server_key = dir.File("server.pub");
  a.key = dir.File("agent");
  a.host = "node1";
  a.libvirt_uri = "test:///default";
  EXPECT_EQ(StartRmAgent(a).status(), IoError("open " + dir.File("server.pub") +
                                              ": No such file or directory"));
}

}  // namespace
}  // namespace tvd::rm
