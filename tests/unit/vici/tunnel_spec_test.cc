// What ViciTunnelBackend asks charon to load for a tunnel, and which specs it
// refuses before sending anything.
#include <gtest/gtest.h>

#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace tvd::vici {
namespace {

class TunnelSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.tvd = "blue";
    spec_.tvd_id = 7;
    spec_.local_host = "host1";
    spec_.peer_host = "host2";
    spec_.local_address = "198.18.0.1";
    spec_.peer_address = "198.18.0.2";
    spec_.ike_proposals = {"aes256gcm16-prfsha256-ecp256"};
    spec_.esp_proposals = {"aes256gcm16-ecp256"};
    spec_.psk = &psk_;
    spec_.initiator = true;
  }
  SecureBytes psk_ = SecureBytes::Random(32);
  vswitch::TunnelSpec spec_;
};

TEST_F(TunnelSpecTest, ConnectionNamesTheTvdPortInBothDirections) {
  StatusOr<Message> conn = ViciTunnelBackend::BuildConnection(spec_);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_EQ(conn->ValueOr("version", ""), "2");
  EXPECT_EQ(*conn->List("local_addrs"), std::vector<std::string>{"198.18.0.1"});
  EXPECT_EQ(*conn->List("remote_addrs"),
            std::vector<std::string>{"198.18.0.2"});
  EXPECT_EQ(conn->Section("local")->ValueOr("id", ""), "blue@host1");
  EXPECT_EQ(conn->Section("remote")->ValueOr("id", ""), "blue@host2");
  EXPECT_EQ(conn->Section("local")->ValueOr("auth", ""), "psk");
  const Message* children = conn->Section("children");
  ASSERT_NE(children, nullptr);
  const Message* out = children->Section("tvd-blue-host2-out");
  const Message* in = children->Section("tvd-blue-host2-in");
  ASSERT_NE(out, nullptr);
  ASSERT_NE(in, nullptr);
  // 49152 + 7
  EXPECT_EQ(*out->List("local_ts"),
            std::vector<std::string>{"198.18.0.1/32[udp]"});
  EXPECT_EQ(*out->List("remote_ts"),
            std::vector<std::string>{"198.18.0.2/32[udp/49159]"});
  EXPECT_EQ(*in->List("local_ts"),
            std::vector<std::string>{"198.18.0.1/32[udp/49159]"});
  EXPECT_EQ(*in->List("remote_ts"),
            std::vector<std::string>{"198.18.0.2/32[udp]"});
  EXPECT_EQ(out->ValueOr("mode", ""), "tunnel");
  EXPECT_EQ(out->ValueOr("dpd_action", ""), "restart");
  // No secret in the connection itself.
  EXPECT_EQ(conn->DebugString().find("data"), std::string::npos);
}

TEST_F(TunnelSpecTest, Ipv6UsesHostPrefix128) {
  spec_.local_address = "2001:db8::1";
  spec_.peer_address = "2001:db8::2";
  spec_.initiator = false;
  StatusOr<Message> conn = ViciTunnelBackend::BuildConnection(spec_);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  const Message* out = conn->Section("children")->Section("tvd-blue-host2-out");
  EXPECT_EQ(*out->List("remote_ts"),
            std::vector<std::string>{"2001:db8::2/128[udp/49159]"});
  EXPECT_EQ(out->ValueOr("dpd_action", ""), "clear");
}

TEST_F(TunnelSpecTest, BadSpecsAreRefusedWithTheFieldNamed) {
  struct Case {
    std::function<void(vswitch::TunnelSpec&)> edit;
    const char* error;
  };
  SecureBytes short_psk = SecureBytes::Random(8);
  std::vector<Case> cases = {
      {[](auto& s) { s.tvd = ""; }, "tunnel spec: tvd is empty"},
      {[](auto& s) { s.tvd = "a b"; },
       "tunnel spec: tvd 'a b' has a character outside [A-Za-z0-9_-]"},
      {[](auto& s) { s.tvd = "a@b"; },
       "tunnel spec: tvd 'a@b' has a character outside [A-Za-z0-9_-]"},
      {[](auto& s) { s.peer_host = "host1"; },
       "tunnel spec: local_host and peer_host are both 'host1'"},
      {[](auto& s) { s.tvd_id = 0; },
       "tunnel spec: tvd_id 0 is outside 1..16383"},
      {[](auto& s) { s.tvd_id = 16384; },
       "tunnel spec: tvd_id 16384 is outside 1..16383"},
      {[](auto& s) { s.peer_address = "198.18.0.300"; },
       "tunnel spec: peer_address '198.18.0.300' is not an IPv4 or IPv6 "
       "address"},
      {[](auto& s) { s.peer_address = "2001:db8::2"; },
       "tunnel spec: local_address '198.18.0.1' and peer_address "
       "'2001:db8::2' are of different address families"},
      {[](auto& s) { s.peer_address = "198.18.0.1"; },
       "tunnel spec: local_address and peer_address are both '198.18.0.1'"},
      {[](auto& s) { s.ike_proposals.clear(); },
       "tunnel spec: ike_proposals is empty (the TVD policy must name them)"},
      {[](auto& s) { s.esp_proposals = {"aes256gcm16,evil=yes"}; },
       "tunnel spec: esp_proposals entry 'aes256gcm16,evil=yes' is not a "
       "proposal like aes256gcm16-ecp256"},
      {[](auto& s) { s.psk = nullptr; }, "tunnel spec: psk is missing"},
      {[&](auto& s) { s.psk = &short_psk; },
       "tunnel spec: psk is 8 bytes, it must be 16..1024"},
  };
  for (const Case& c : cases) {
    vswitch::TunnelSpec s = spec_;
    c.edit(s);
    Status st = ViciTunnelBackend::ValidateSpec(s);
    EXPECT_EQ(st, InvalidArgument(c.error));
  }
}

}  // namespace
}  // namespace tvd::vici
