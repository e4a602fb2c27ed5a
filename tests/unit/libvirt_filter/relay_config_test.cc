#include "tvd/libvirt_filter/relay_config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace tvd::libvirt_filter {
namespace {

TEST(RelayConfigTest, FlagsAndFile) {
  std::string file = ::testing::TempDir() + "/relay.conf";
  std::ofstream(file) << "# relay\nlisten = 0.0.0.0:16600\nca-cert = /c\n"
                         "cert=/s\nkey = /k\npolicy-dir = /p\n";
  auto c =
      ParseRelayConfig({"--config=" + file, "--upstream-uri=test:///default",
                        "--frame-timeout-ms=500"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->options.listen_address, "0.0.0.0");
  EXPECT_EQ(c->options.port, 16600);
  EXPECT_EQ(c->options.upstream_uri, "test:///default");
  EXPECT_EQ(c->options.frame_timeout.count(), 500);
  EXPECT_EQ(c->key_path, "/k");
  EXPECT_EQ(c->storage_root, "/var/lib/tvd");
  // Defaults: the Debian emulator, no graphics.
  EXPECT_EQ(c->host.emulator, "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(c->host.graphics, GraphicsPolicy::kNone);
}

TEST(RelayConfigTest, EmulatorAndGraphics) {
  std::string file = ::testing::TempDir() + "/relay-host.conf";
  std::ofstream(file) << "ca-cert = /c\ncert=/s\nkey = /k\npolicy-dir = /p\n"
                         "emulator = /usr/libexec/qemu-kvm\ngraphics = spice\n";
  auto c = ParseRelayConfig({"--config=" + file});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host.emulator, "/usr/libexec/qemu-kvm");
  EXPECT_EQ(c->host.graphics, GraphicsPolicy::kSpice);
  c = ParseRelayConfig({"--config=" + file, "--graphics=vnc", "--emulator="});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host.emulator, "");
  EXPECT_EQ(c->host.graphics, GraphicsPolicy::kVnc);
  EXPECT_EQ(ParseRelayConfig({"--graphics=sdl"}).status(),
            InvalidArgument("--graphics: graphics: 'sdl' is not one of none, "
                            "vnc, spice"));
  EXPECT_EQ(ParseRelayConfig({"--emulator=qemu"}).status(),
            InvalidArgument("--emulator: 'qemu' is not absolute"));
}

TEST(RelayConfigTest, TenantLimits) {
  const std::vector<std::string> base = {"--ca-cert=/c", "--cert=/s",
                                         "--key=/k", "--policy-dir=/p"};
  auto defaults = ParseRelayConfig(base);
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  const TenantLimitOptions& d = defaults->options.tenant_limits;
  EXPECT_EQ(d.max_connections, 8u);
  EXPECT_EQ(d.calls_per_second, 200.0);
  EXPECT_EQ(d.burst, 400.0);
  EXPECT_EQ(d.max_in_flight, 4u);

  std::string file = ::testing::TempDir() + "/limits.conf";
  std::ofstream(file) << "tenant-max-connections = 3\n"
                         "tenant-calls-per-second = 50\n"
                         "tenant-call-burst = 100\n";
  std::vector<std::string> args = base;
  args.push_back("--config=" + file);
  args.push_back("--tenant-max-in-flight=0");
  auto c = ParseRelayConfig(args);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const TenantLimitOptions& l = c->options.tenant_limits;
  EXPECT_EQ(l.max_connections, 3u);
  EXPECT_EQ(l.calls_per_second, 50.0);
  EXPECT_EQ(l.burst, 100.0);
  EXPECT_EQ(l.max_in_flight, 0u);

  EXPECT_EQ(ParseRelayConfig({"--tenant-max-connections=-1"}).status(),
            InvalidArgument("--tenant-max-connections: '-1' is not a number "
                            "in 0..4096"));
  EXPECT_EQ(ParseRelayConfig({"--tenant-call-burst=0"}).status(),
            InvalidArgument("--tenant-call-burst: '0' is not a number in "
                            "1..1000000"));
  EXPECT_EQ(ParseRelayConfig({"--tenant-calls-per-second=1.5"}).status(),
            InvalidArgument("--tenant-calls-per-second: '1.5' is not a number "
                            "in 0..1000000"));
  EXPECT_EQ(ParseRelayConfig({"--tenant-max-in-flight=1025"}).status(),
            InvalidArgument("--tenant-max-in-flight: '1025' is not a number in "
                            "0..1024"));
}

TEST(RelayConfigTest, Errors) {
  EXPECT_EQ(ParseRelayConfig({"--bogus=1"}).status(),
            InvalidArgument("unknown option '--bogus'"));
  EXPECT_EQ(ParseRelayConfig({"--listen=1.2.3.4"}).status(),
            InvalidArgument("--listen: '1.2.3.4' is not ADDRESS:PORT (IPv6 "
                            "as [ADDRESS]:PORT)"));
  EXPECT_EQ(ParseRelayConfig({"--listen=localhost:16514"}).status(),
            InvalidArgument("--listen: 'localhost:16514' does not start with "
                            "an IP address"));
  EXPECT_EQ(
      ParseRelayConfig({"--ca-cert=/c", "--cert=/s", "--key=/k"}).status(),
      InvalidArgument("--policy-dir is required"));
  std::string file = ::testing::TempDir() + "/bad.conf";
  std::ofstream(file) << "listen 1\n";
  EXPECT_EQ(ParseRelayConfig({"--config=" + file}).status(),
            InvalidArgument(file + ":1: expected 'key = value'"));
}

}  // namespace
}  // namespace tvd::libvirt_filter
