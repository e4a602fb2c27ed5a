// The namespace fixture itself: namespaces appear and disappear, veth pairs
// carry traffic between them, and processes run inside them.
#include "tvd/testing/netns.h"

#include <gtest/gtest.h>

namespace tvd::testing {
namespace {

TEST(NetnsFixtureTest, VethPairCarriesPingAndNamespaceIsRemoved) {
  std::string name_a = UniqueName("tnA");
  std::string name_b = UniqueName("tnB");
  {
    StatusOr<NetworkNamespace> a = NetworkNamespace::Create(name_a);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    StatusOr<NetworkNamespace> b = NetworkNamespace::Create(name_b);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_TRUE(CreateVethPair("va", name_a, "vb", name_b).ok());
    ASSERT_TRUE(
        a->Run({"ip", "addr", "add", "198.18.0.1/24", "dev", "va"}).ok());
    ASSERT_TRUE(
        b->Run({"ip", "addr", "add", "198.18.0.2/24", "dev", "vb"}).ok());
    Status ping = a->Run({"ping", "-c", "1", "-W", "2", "198.18.0.2"});
    EXPECT_TRUE(ping.ok()) << ping.ToString();
    // An address nobody has does not answer: the check above can fail.
    Status nothing = a->Run({"ping", "-c", "1", "-W", "1", "198.18.0.3"});
    EXPECT_FALSE(nothing.ok());
    // The interface lives only inside the namespace.
    ProcessOptions show;
    show.argv = {"ip", "-o", "link", "show", "va"};
    StatusOr<CommandResult> links = RunCommand(show);
    ASSERT_TRUE(links.ok());
    EXPECT_NE(links->exit_status, 0);
  }
  ProcessOptions list_cmd;
  list_cmd.argv = {"ip", "netns", "list"};
  StatusOr<CommandResult> list = RunCommand(list_cmd);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->out.find(name_a), std::string::npos);
  EXPECT_EQ(list->out.find(name_b), std::string::npos);
}

TEST(NetnsFixtureTest, PrivateMountNamespaceSeesOwnSysAndBindMounts) {
  std::string name = UniqueName("tnM");
  StatusOr<NetworkNamespace> ns = NetworkNamespace::Create(name);
  ASSERT_TRUE(ns.ok());
  std::string dir = ::testing::TempDir() + "/" + name;
  ASSERT_TRUE(RunChecked({"mkdir", "-p", dir}).ok());
  ASSERT_TRUE(RunChecked({"sh", "-c", "echo marker > " + dir + "/m"}).ok());
  ProcessOptions o = ns->Options({"sh", "-c", "ls /sys/class/net; cat /run/m"});
  o.new_mount_namespace = true;
  o.bind_mounts = {{dir, "/run"}};
  StatusOr<CommandResult> r = RunCommand(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_status, 0) << r->err;
  EXPECT_EQ(r->out, "lo\nmarker\n");
  ASSERT_TRUE(RunChecked({"rm", "-rf", dir}).ok());
}

}  // namespace
}  // namespace tvd::testing
