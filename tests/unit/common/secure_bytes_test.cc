#include "tvd/secure_bytes.h"

#include <gtest/gtest.h>

namespace tvd {
namespace {

TEST(SecureBytesTest, RandomKeysDiffer) {
  SecureBytes a = SecureBytes::Random(32);
  SecureBytes b = SecureBytes::Random(32);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_FALSE(a.Equals(b.view()));
  EXPECT_TRUE(a.Equals(a.Clone().view()));
}

TEST(SecureBytesTest, MoveLeavesSourceEmpty) {
  SecureBytes a = SecureBytes::Random(16);
  SecureBytes copy = a.Clone();
  SecureBytes b(std::move(a));
  EXPECT_TRUE(
      a.empty());  // NOLINT(bugprone-use-after-move): checked on purpose
  EXPECT_TRUE(b.Equals(copy.view()));
}

TEST(SecureBytesTest, ClearEmpties) {
  SecureBytes a = SecureBytes::Random(16);
  a.Clear();
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.Equals(SecureBytes::Random(16).view()));
}

}  // namespace
}  // namespace tvd
