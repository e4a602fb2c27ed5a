#include "tvd/attest/nonce_registry.h"

#include <gtest/gtest.h>

namespace tvd::attest {
namespace {

TEST(NonceRegistryTest, SingleUseBoundToConnection) {
  auto now = std::chrono::steady_clock::time_point{};
  NonceRegistry r(std::chrono::seconds(10), [&] { return now; });
  Nonce a = r.Issue(1);
  Nonce b = r.Issue(1);
  EXPECT_NE(a, b);
  EXPECT_EQ(r.Consume(a, 1), Status::Ok());
  EXPECT_EQ(r.Consume(a, 1),
            Unauthenticated("nonce replayed: it was already used"));
  EXPECT_EQ(r.Consume(b, 2),
            Unauthenticated("nonce was issued to another connection"));
  EXPECT_EQ(r.Consume(Nonce{}, 1), Unauthenticated("unknown nonce"));
}

TEST(NonceRegistryTest, ExpiresAndForgets) {
  auto now = std::chrono::steady_clock::time_point{};
  NonceRegistry r(std::chrono::seconds(10), [&] { return now; });
  Nonce late = r.Issue(1);
  Nonce used = r.Issue(1);
  ASSERT_EQ(r.Consume(used, 1), Status::Ok());
  now += std::chrono::seconds(11);
  EXPECT_EQ(r.Consume(late, 1), Unauthenticated("nonce expired"));
  // After the window a used nonce is no longer remembered: it is unknown,
  // and still refused.
  EXPECT_EQ(r.Consume(used, 1), Unauthenticated("unknown nonce"));
}

}  // namespace
}  // namespace tvd::attest
