// proxy-factory's flags and start-up wiring (factory_daemon.h), as main
// runs them.
#include "tvd/proxy_factory/factory_daemon.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tvd/testing/temp_dir.h"

namespace tvd::host {
namespace {

TEST(FactoryDaemonTest, FlagsAndDefaults) {
  auto f = daemon::ParseDaemonFlags(FactoryDaemonSpec(), {});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->socket, "/run/tvd/proxy-factory.sock");
  EXPECT_EQ(f->run_dir, "/run/tvd/proxies");
  EXPECT_EQ(f->group, std::nullopt);
  f = daemon::ParseDaemonFlags(
      FactoryDaemonSpec(),
      {"--socket=/s", "--run-dir", "/r", "--group=root", "--proxy", "/p",
       "--proxy-arg=--libvirt-uri=test:///default", "--proxy-arg=--tcti=none",
       "--state-dir=/st"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->socket, "/s");
  EXPECT_EQ(f->run_dir, "/r");
  EXPECT_EQ(f->group, gid_t{0});
  EXPECT_EQ(f->proxy, "/p");
  EXPECT_EQ(f->proxy_args,
            (std::vector<std::string>{"--libvirt-uri=test:///default",
                                      "--tcti=none"}));
  EXPECT_EQ(f->state_dir, "/st");
}

TEST(FactoryDaemonTest, FlagErrors) {
  EXPECT_EQ(daemon::ParseDaemonFlags(FactoryDaemonSpec(),
                                     {"--group=no-such-group-tvd"})
                .status(),
            InvalidArgument("--group: no group 'no-such-group-tvd'"));
  EXPECT_EQ(
      daemon::ParseDaemonFlags(FactoryDaemonSpec(), {"--socket"}).status(),
      InvalidArgument("--socket needs a value"));
  EXPECT_EQ(
      daemon::ParseDaemonFlags(FactoryDaemonSpec(), {"--frob=1"}).status(),
      InvalidArgument("unknown option '--frob'"));
}

// The master, or its replicas, reach every proxy as one --master list.
TEST(FactoryDaemonTest, MasterListIsPassedToEveryProxy) {
  auto f = daemon::ParseDaemonFlags(
      FactoryDaemonSpec(),
      {"--proxy=/p", "--proxy-arg=--tcti=none",
       "--master=10.0.0.1:7400, 10.0.0.2:7400,[fd00::3]:7400",
       "--state-dir=/st"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->masters,
            (std::vector<daemon::Endpoint>{
                {"10.0.0.1", 7400}, {"10.0.0.2", 7400}, {"fd00::3", 7400}}));
  EXPECT_EQ(ProxyArgvPrefix(*f),
            (std::vector<std::string>{
                "/p", "--tcti=none", "--state-dir=/st",
                "--master=10.0.0.1:7400,10.0.0.2:7400,[fd00::3]:7400"}));
  // Without --master nothing is added (a --proxy-arg may carry it).
  f = daemon::ParseDaemonFlags(
      FactoryDaemonSpec(), {"--proxy=/p", "--proxy-arg=--master=1.2.3.4:5"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(ProxyArgvPrefix(*f),
            (std::vector<std::string>{"/p", "--master=1.2.3.4:5"}));
  EXPECT_EQ(daemon::ParseDaemonFlags(FactoryDaemonSpec(),
                                     {"--master=10.0.0.1:1,10.0.0.1:1"})
                .status(),
            InvalidArgument("--master: '10.0.0.1:1,10.0.0.1:1': entry 2 "
                            "(10.0.0.1:1) repeats entry 1"));
}

// A bad list (or two of them) stops the factory before anything exists.
TEST(FactoryDaemonTest, StartChecksTheMasterListOfTheProxies) {
  testing::TempDir dir;
  FactoryFlags f;
  f.socket = dir.File("factory.sock");
  f.run_dir = dir.File("run");
  f.proxy_args = {"--tcti=none", "--master=10.0.0.1:1,,10.0.0.2:1"};
  EXPECT_EQ(StartFactoryDaemon(f).status(),
            InvalidArgument("--proxy-arg=--master: '10.0.0.1:1,,10.0.0.2:1': "
                            "entry 2 is empty"));
  f.proxy_args = {"--master=10.0.0.1:1"};
  f.masters = {{"10.0.0.2", 1}};
  EXPECT_EQ(
      StartFactoryDaemon(f).status(),
      InvalidArgument("--master is given both as --master and as --proxy-arg"));
  struct stat st {};
  EXPECT_NE(::stat(f.run_dir.c_str(), &st), 0);
}

TEST(FactoryDaemonTest, StartCreatesTheRunDirAndListens) {
  testing::TempDir dir;
  FactoryFlags f;
  f.socket = dir.File("factory.sock");
  f.run_dir = dir.File("run");
  f.proxy = "/bin/false";
  auto d = StartFactoryDaemon(f);
  ASSERT_TRUE(d.ok()) << d.status();
  struct stat st {};
  ASSERT_EQ(::stat(f.run_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(f.socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  (*d)->Stop();
}

TEST(FactoryDaemonTest, StartNamesWhatFailed) {
  testing::TempDir dir;
  FactoryFlags f;
  f.socket = dir.File("factory.sock");
  f.run_dir = dir.File("missing/run");
  EXPECT_EQ(
      StartFactoryDaemon(f).status(),
      IoError("cannot create " + f.run_dir + ": No such file or directory"));
}

}  // namespace
}  // namespace tvd::host
