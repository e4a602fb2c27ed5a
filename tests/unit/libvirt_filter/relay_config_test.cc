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
            InvalidArgument("--emulator: emulator: 'qemu' is not absolute"));
}

TEST(RelayConfigTest, Errors) {
  EXPECT_EQ(ParseRelayConfig({"--bogus=1"}).status(),
            InvalidArgument("--bogus: unknown setting 'bogus'"));
  EXPECT_EQ(ParseRelayConfig({"--listen=1.2.3.4"}).status(),
            InvalidArgument("--listen: listen: expected ADDRESS:PORT, got "
                            "'1.2.3.4'"));
  EXPECT_EQ(
      ParseRelayConfig({"--ca-cert=/c", "--cert=/s", "--key=/k"}).status(),
      InvalidArgument("missing setting 'policy-dir'"));
  std::string file = ::testing::TempDir() + "/bad.conf";
  std::ofstream(file) << "listen 1\n";
  EXPECT_EQ(ParseRelayConfig({"--config=" + file}).status(),
            InvalidArgument(file + ":1: expected 'key = value'"));
}

}  // namespace
}  // namespace tvd::libvirt_filter
