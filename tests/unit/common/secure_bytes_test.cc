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

// Adopt takes the vector's buffer itself: the bytes are not copied (a
// copy would be one more place the key is, unwiped).
TEST(SecureBytesTest, AdoptTakesTheBufferWithoutACopy) {
  std::vector<std::uint8_t> v = {1, 2, 3, 4};
  const std::uint8_t* buffer = v.data();
  SecureBytes a = SecureBytes::Adopt(std::move(v));
  EXPECT_EQ(a.data(), buffer);
  EXPECT_TRUE(a.Equals(std::vector<std::uint8_t>{1, 2, 3, 4}));
  EXPECT_TRUE(v.empty());  // NOLINT(bugprone-use-after-move): checked
}

TEST(SecureBytesTest, ClearEmpties) {
  SecureBytes a = SecureBytes::Random(16);
  a.Clear();
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.Equals(SecureBytes::Random(16).view()));
}

}  // namespace
}  // namespace tvd
