#include "tvd/proxy/disk_passphrase.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tvd::proxy {
namespace {

std::string AsString(const SecureBytes& b) {
  return std::string(b.view().begin(), b.view().end());
}

TEST(DiskPassphraseTest, IsTheKeyInLowercaseHex) {
  std::vector<std::uint8_t> key = {0x00, 0x7f, 0x80, 0xff, 0x0a, 0xb1};
  EXPECT_EQ(AsString(DiskPassphrase(SecureBytes(key))), "007f80ff0ab1");
}

TEST(DiskPassphraseTest, EveryByteValueGivesPrintableAscii) {
  // QEMU refuses a passphrase that is not valid UTF-8; random key bytes
  // often are not, their hex always is.
  std::vector<std::uint8_t> key(256);
  for (int i = 0; i < 256; ++i) key[i] = static_cast<std::uint8_t>(i);
  SecureBytes p = DiskPassphrase(SecureBytes(key));
  ASSERT_EQ(p.size(), 512u);
  for (std::uint8_t c : p.view()) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << int(c);
  }
  EXPECT_EQ(AsString(p).substr(0, 8), "00010203");
  EXPECT_EQ(AsString(p).substr(504), "fcfdfeff");
}

TEST(DiskPassphraseTest, EmptyKeyGivesEmptyPassphrase) {
  EXPECT_TRUE(DiskPassphrase(SecureBytes()).empty());
}

}  // namespace
}  // namespace tvd::proxy
