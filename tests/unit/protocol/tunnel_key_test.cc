#include "tvd/protocol/tunnel_key.h"

#include <gtest/gtest.h>

#include <numeric>

#include "tvd/sha256.h"

namespace tvd::protocol {
namespace {

SecureBytes CountingKey() {
  std::vector<std::uint8_t> k(32);
  std::iota(k.begin(), k.end(), 0);
  return SecureBytes(k);
}

// Expected values computed independently (RFC 5869 HKDF with Python's hmac)
// from info = "tvd-tunnel\0blue\0node1\0node2\0" || u64be(epoch).
TEST(TunnelKeyTest, MatchesIndependentVector) {
  auto psk = DeriveTunnelPsk(CountingKey(), "blue", "node1", "node2", 7);
  ASSERT_TRUE(psk.ok()) << psk.status().ToString();
  EXPECT_EQ(ToHex(psk->view()),
            "64a8429c5344b6e1ff0096ce63acd235bf654f1d8ca3a3e05c30c967c15ab64f");
  auto next = DeriveTunnelPsk(CountingKey(), "blue", "node1", "node2", 8);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(ToHex(next->view()),
            "f6bd7298cad466b0ddda3b0dc18eec7a7b9353c0ba6496cb2930716b2e3fab2f");
}

TEST(TunnelKeyTest, BothEndsGetTheSameKey) {
  auto ab = DeriveTunnelPsk(CountingKey(), "blue", "node1", "node2", 7);
  auto ba = DeriveTunnelPsk(CountingKey(), "blue", "node2", "node1", 7);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_TRUE(ab->Equals(ba->view()));
}

TEST(TunnelKeyTest, TvdAndHostsSeparateKeys) {
  auto a = DeriveTunnelPsk(CountingKey(), "blue", "node1", "node2", 7);
  auto b = DeriveTunnelPsk(CountingKey(), "red", "node1", "node2", 7);
  auto c = DeriveTunnelPsk(CountingKey(), "blue", "node1", "node3", 7);
  // Separators: ("ab","c") must differ from ("a","bc").
  auto d = DeriveTunnelPsk(CountingKey(), "blue", "ab", "c", 7);
  auto e = DeriveTunnelPsk(CountingKey(), "blue", "a", "bc", 7);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok() && e.ok());
  EXPECT_FALSE(a->Equals(b->view()));
  EXPECT_FALSE(a->Equals(c->view()));
  EXPECT_FALSE(d->Equals(e->view()));
}

TEST(TunnelKeyTest, RefusesBadInput) {
  EXPECT_EQ(DeriveTunnelPsk(SecureBytes(5), "blue", "a", "b", 1).status(),
            InvalidArgument("tunnel PSK: TVD key must be 32 bytes, got 5"));
  EXPECT_EQ(DeriveTunnelPsk(CountingKey(), "blue", "a", "a", 1).status(),
            InvalidArgument("tunnel PSK: both ends are host 'a'"));
  EXPECT_EQ(DeriveTunnelPsk(CountingKey(), "blue", "a", "b", 0).status(),
            InvalidArgument("tunnel PSK: epoch 0 is not valid"));
  EXPECT_EQ(
      DeriveTunnelPsk(CountingKey(), "", "a", "b", 1).status(),
      InvalidArgument("tunnel PSK: TVD and host names must not be empty"));
}

}  // namespace
}  // namespace tvd::protocol
