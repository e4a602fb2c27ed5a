// tvd-proxy's flags and start-up wiring (proxy_daemon.h), as main runs
// them: the errors a wrong command line or a missing file gives, before
// anything on the host is touched.
#include "tvd/proxy/proxy_daemon.h"

#include <gtest/gtest.h>

#include "tvd/testing/files.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::proxy {
namespace {

const std::vector<std::string> kRequired = {
    "--tvd=blue",           "--socket=/run/blue.sock", "--host=node1",
    "--address=198.18.0.1", "--master=127.0.0.1:7400", "--ca=/ca.pem",
    "--cert=/node1.pem",    "--key=/node1.key"};

std::vector<std::string> With(std::vector<std::string> extra) {
  std::vector<std::string> args = kRequired;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(ProxyDaemonTest, FlagsAndDefaults) {
  auto f = daemon::ParseDaemonFlags(ProxyDaemonSpec(), kRequired);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->tvd, "blue");
  EXPECT_EQ(f->masters, (std::vector<daemon::Endpoint>{{"127.0.0.1", 7400}}));
  EXPECT_EQ(f->master_name, "tvd-master");
  EXPECT_EQ(f->tcti, "device:/dev/tpmrm0");
  EXPECT_EQ(f->libvirt_uri, "qemu:///system");
  EXPECT_EQ(f->ovsdb, "/var/run/openvswitch/db.sock");
  EXPECT_EQ(f->bridge, "br-tvd");
  EXPECT_EQ(f->openflow, "");
  EXPECT_EQ(f->datapath, "netdev");
  EXPECT_EQ(f->state_dir, "/var/lib/tvd/proxy");
  f = daemon::ParseDaemonFlags(
      ProxyDaemonSpec(),
      With({"--master-name", "m1", "--tcti=none", "--datapath=system",
            "--netns", "h1", "--usage-socket=/run/blue.usage"}));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->master_name, "m1");
  EXPECT_EQ(f->tcti, "none");
  EXPECT_EQ(f->datapath, "system");
  EXPECT_EQ(f->netns, "h1");
  EXPECT_EQ(f->usage_socket, "/run/blue.usage");
}

TEST(ProxyDaemonTest, FlagErrors) {
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), {}).status(),
            InvalidArgument("--tvd is required"));
  std::vector<std::string> no_key(kRequired.begin(), kRequired.end() - 1);
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), no_key).status(),
            InvalidArgument("--key is required"));
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(),
                                     With({"--master=127.0.0.1:74x"}))
                .status(),
            InvalidArgument("--master given twice"));
  std::vector<std::string> bad_master = kRequired;
  bad_master[4] = "--master=127.0.0.1:74x";
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), bad_master).status(),
            InvalidArgument("--master: '127.0.0.1:74x' does not end in a port "
                            "1..65535"));
  bad_master[4] = "--master=master.vdc:7400";
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), bad_master).status(),
            InvalidArgument("--master: 'master.vdc:7400' does not start with "
                            "an IP address"));
  EXPECT_EQ(
      daemon::ParseDaemonFlags(ProxyDaemonSpec(), With({"--datapath=kernel"}))
          .status(),
      InvalidArgument("--datapath: 'kernel' is not netdev or system"));
}

// --master takes the master's replicas, in the order the proxy tries them.
TEST(ProxyDaemonTest, MasterListFlag) {
  std::vector<std::string> args = kRequired;
  args[4] = "--master=127.0.0.1:7400,127.0.0.2:7400,[::1]:7401";
  auto f = daemon::ParseDaemonFlags(ProxyDaemonSpec(), args);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->masters,
            (std::vector<daemon::Endpoint>{
                {"127.0.0.1", 7400}, {"127.0.0.2", 7400}, {"::1", 7401}}));
  args[4] = "--master=127.0.0.1:7400,127.0.0.1:7400";
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), args).status(),
            InvalidArgument("--master: '127.0.0.1:7400,127.0.0.1:7400': "
                            "entry 2 (127.0.0.1:7400) repeats entry 1"));
  args[4] = "--master=127.0.0.1:7400,";
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), args).status(),
            InvalidArgument("--master: '127.0.0.1:7400,': entry 2 is empty"));
  args[4] = "--master=127.0.0.1:7400,master.vdc:7400";
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), args).status(),
            InvalidArgument("--master: '127.0.0.1:7400,master.vdc:7400': "
                            "entry 2: 'master.vdc:7400' does not start with "
                            "an IP address"));
  std::string many = "--master=";
  for (int i = 1; i <= 17; ++i) {
    many += (i > 1 ? "," : "") + std::string("127.0.0.") + std::to_string(i) +
            ":7400";
  }
  args[4] = many;
  EXPECT_EQ(daemon::ParseDaemonFlags(ProxyDaemonSpec(), args).status(),
            InvalidArgument("--master: '" + many.substr(9) +
                            "' lists 17 endpoints; at most 16"));
}

TEST(ProxyDaemonTest, StartReadsTheCredentialsFirst) {
  tvd::testing::TempDir dir;
  auto f = daemon::ParseDaemonFlags(ProxyDaemonSpec(), kRequired);
  ASSERT_TRUE(f.ok()) << f.status();
  f->ca = dir.File("ca.pem");
  f->cert = dir.File("node1.pem");
  f->key = dir.File("node1.key");
  // No libvirt, OVS or charon is reached: the missing file is the error.
  EXPECT_EQ(StartProxyDaemon(*f).status(),
            IoError("cannot read " + dir.File("ca.pem")));
  tvd::testing::WriteTestFile(f->ca, "ca");
  tvd::testing::WriteTestFile(f->cert, "cert");
  EXPECT_EQ(StartProxyDaemon(*f).status(),
            IoError("cannot read " + dir.File("node1.key")));
}

}  // namespace
}  // namespace tvd::proxy
