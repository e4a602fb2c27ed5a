// tvd-overview's flags and start-up wiring (overview_daemon.h), as main
// runs them.
#include "tvd/overview/overview_daemon.h"

#include <gtest/gtest.h>

#include "tvd/testing/temp_dir.h"

namespace tvd::overview {
namespace {

using std::chrono::milliseconds;

const std::vector<std::string> kRequired = {"--master",
                                            "127.0.0.1:7400",
                                            "--ca",
                                            "/ca.pem",
                                            "--cert",
                                            "/alice.pem",
                                            "--key",
                                            "/alice.key",
                                            "--rm-server",
                                            "tcp://127.0.0.1:7500",
                                            "--rm-server-key",
                                            "/rm.pub",
                                            "--rm-key",
                                            "/alice-rm"};

TEST(OverviewDaemonTest, FlagsAndDefaults) {
  auto f = daemon::ParseDaemonFlags(OverviewDaemonSpec(), kRequired);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->listen, (daemon::Endpoint{"127.0.0.1", 8480}));
  EXPECT_EQ(f->masters, (std::vector<daemon::Endpoint>{{"127.0.0.1", 7400}}));
  EXPECT_EQ(f->master_name, "tvd-master");
  EXPECT_EQ(f->refresh_seconds, 5);
  EXPECT_EQ(f->cache, milliseconds(1000));
  EXPECT_EQ(f->timeout, milliseconds(3000));
  EXPECT_FALSE(f->allow_non_loopback);
  std::vector<std::string> args = kRequired;
  for (const char* a :
       {"--listen", "[::1]:0", "--allow-non-loopback", "--allowed-host",
        "vdc.example", "--allowed-host", "other", "--refresh-seconds", "0",
        "--cache-ms", "250", "--timeout-ms", "2s"}) {
    args.push_back(a);
  }
  f = daemon::ParseDaemonFlags(OverviewDaemonSpec(), args);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->listen, (daemon::Endpoint{"::1", 0}));
  EXPECT_TRUE(f->allow_non_loopback);
  EXPECT_EQ(f->allowed_hosts,
            (std::vector<std::string>{"vdc.example", "other"}));
  EXPECT_EQ(f->refresh_seconds, 0);
  EXPECT_EQ(f->cache, milliseconds(250));
  EXPECT_EQ(f->timeout, milliseconds(2000));
  args = kRequired;
  args[1] = "127.0.0.1:7400,[::1]:7401";
  f = daemon::ParseDaemonFlags(OverviewDaemonSpec(), args);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->masters, (std::vector<daemon::Endpoint>{{"127.0.0.1", 7400},
                                                       {"::1", 7401}}));
}

TEST(OverviewDaemonTest, FlagErrors) {
  EXPECT_EQ(daemon::ParseDaemonFlags(OverviewDaemonSpec(),
                                     {"--listen", "127.0.0.1:0"})
                .status(),
            InvalidArgument("--master is required"));
  std::vector<std::string> args = kRequired;
  args.insert(args.end(), {"--master-name", "bad name"});
  EXPECT_EQ(daemon::ParseDaemonFlags(OverviewDaemonSpec(), args).status(),
            InvalidArgument("--master-name: 'bad name' is not a valid "
                            "certificate name"));
  args = kRequired;
  args.insert(args.end(), {"--refresh-seconds", "-1"});
  EXPECT_EQ(daemon::ParseDaemonFlags(OverviewDaemonSpec(), args).status(),
            InvalidArgument("--refresh-seconds: '-1' is not a number in "
                            "0..86400"));
  args = kRequired;
  args[1] = "127.0.0.1:0";
  EXPECT_EQ(daemon::ParseDaemonFlags(OverviewDaemonSpec(), args).status(),
            InvalidArgument("--master: '127.0.0.1:0' does not end in a port "
                            "1..65535"));
}

TEST(OverviewDaemonTest, StartNamesTheMissingCredential) {
  testing::TempDir dir;
  auto f = daemon::ParseDaemonFlags(OverviewDaemonSpec(), kRequired);
  ASSERT_TRUE(f.ok()) << f.status();
  f->ca = dir.File("ca.pem");
  EXPECT_EQ(StartOverviewDaemon(*f).status(),
            IoError("admin credentials: cannot open " + dir.File("ca.pem") +
                    ": No such file or directory"));
}

}  // namespace
}  // namespace tvd::overview
