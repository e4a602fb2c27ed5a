// libvirt-filter's start-up wiring (relay_daemon.h), as main runs it.
#include "tvd/libvirt_filter/relay_daemon.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tvd::libvirt_filter {
namespace {

TEST(RelayDaemonTest, SpecTakesTheRelayFlags) {
  auto c = daemon::ParseDaemonFlags(RelayDaemonSpec(),
                                    {"--ca-cert=/c", "--cert=/s", "--key=/k",
                                     "--policy-dir=/p", "--listen=[::1]:0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.listen_address, "::1");
  EXPECT_EQ(c->options.port, 0);
  EXPECT_EQ(c->options.proxy_run_dir, "/run/tvd/proxies");
}

TEST(RelayDaemonTest, StartNamesWhatIsMissing) {
  const std::string dir = ::testing::TempDir() + "/relay-daemon-test";
  std::filesystem::remove_all(dir);
  RelayConfig c;
  c.policy_dir = dir + "/policies";
  c.ca_cert_path = dir + "/ca.pem";
  EXPECT_EQ(StartRelayDaemon(c).status(),
            IoError(c.policy_dir + ": No such file or directory"));
  std::filesystem::create_directories(c.policy_dir);
  EXPECT_EQ(
      StartRelayDaemon(c).status(),
      IoError("cannot open " + c.ca_cert_path + ": No such file or directory"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tvd::libvirt_filter
