#include "tvd/policy/values.h"

#include <gtest/gtest.h>

namespace tvd::policy {
namespace {

TEST(ValuesTest, TvdNames) {
  EXPECT_TRUE(IsTvdName("blue"));
  EXPECT_TRUE(IsTvdName("a"));
  EXPECT_TRUE(IsTvdName("red-2"));
  EXPECT_TRUE(IsTvdName(std::string(31, 'a')));
  EXPECT_FALSE(IsTvdName(std::string(32, 'a')));
  EXPECT_FALSE(IsTvdName(""));
  EXPECT_FALSE(IsTvdName("Blue"));
  EXPECT_FALSE(IsTvdName("2blue"));
  EXPECT_FALSE(IsTvdName("blue-"));
  EXPECT_FALSE(IsTvdName("blue_data"));
  EXPECT_FALSE(IsTvdName("blue.tvd"));
}

TEST(ValuesTest, VmNamesSubjectsTargetsInterfaces) {
  EXPECT_TRUE(IsVmName("tvd_mgmt_vm"));
  EXPECT_TRUE(IsVmName("CMS.server-1"));
  EXPECT_FALSE(IsVmName("-x"));
  EXPECT_FALSE(IsVmName("a b"));
  EXPECT_FALSE(IsVmName(std::string(65, 'a')));
  EXPECT_TRUE(IsSubject("CN=host-a,O=Example VDC"));
  EXPECT_FALSE(IsSubject("host-a"));
  EXPECT_FALSE(IsSubject(" CN=x"));
  EXPECT_FALSE(IsSubject("CN=x\n"));
  EXPECT_TRUE(IsDiskTarget("vda"));
  EXPECT_TRUE(IsDiskTarget("xvda1"));
  EXPECT_FALSE(IsDiskTarget("v"));
  EXPECT_FALSE(IsDiskTarget("VDA"));
  EXPECT_FALSE(IsDiskTarget("vd-a"));
  EXPECT_TRUE(IsInterfaceName("vif-1.0"));
  EXPECT_TRUE(IsInterfaceName(std::string(15, 'a')));
  EXPECT_FALSE(IsInterfaceName(std::string(16, 'a')));
  EXPECT_FALSE(IsInterfaceName("a/b"));
}

TEST(ValuesTest, Paths) {
  EXPECT_TRUE(IsAbsolutePath("/var/lib/tvd/vmlinuz"));
  EXPECT_FALSE(IsAbsolutePath("var/lib"));
  EXPECT_FALSE(IsAbsolutePath("/"));
  EXPECT_FALSE(IsAbsolutePath("/a//b"));
  EXPECT_FALSE(IsAbsolutePath("/a/../b"));
  EXPECT_FALSE(IsAbsolutePath("/a/./b"));
  EXPECT_FALSE(IsAbsolutePath("/a/"));
  EXPECT_FALSE(IsAbsolutePath(std::string("/a\0b", 4)));
}

TEST(ValuesTest, UuidDecimalBool) {
  EXPECT_TRUE(IsUuid("12345678-1234-4234-8234-123456789ABC"));
  EXPECT_FALSE(IsUuid("12345678123442348234123456789abc"));
  EXPECT_FALSE(IsUuid("12345678-1234-4234-8234-123456789abg"));
  EXPECT_EQ(ParseDecimal("16383", 1, 16383), 16383u);
  EXPECT_EQ(ParseDecimal("0", 0, 5), 0u);
  EXPECT_FALSE(ParseDecimal("16384", 1, 16383));
  EXPECT_FALSE(ParseDecimal("01", 0, 5));
  EXPECT_FALSE(ParseDecimal("+1", 0, 5));
  EXPECT_FALSE(ParseDecimal(" 1", 0, 5));
  EXPECT_FALSE(ParseDecimal("", 0, 5));
  EXPECT_FALSE(ParseDecimal("99999999999999999999", 0, 5));
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool("false"), false);
  EXPECT_FALSE(ParseBool("True"));
  EXPECT_FALSE(ParseBool("1"));
}

TEST(ValuesTest, Cidr) {
  EXPECT_EQ(NormalizeCidr("10.1.0.0/24"), "10.1.0.0/24");
  EXPECT_EQ(NormalizeCidr("fd00:0:0::/64"), "fd00::/64");
  EXPECT_EQ(NormalizeCidr("FD00::/64"), "fd00::/64");
  EXPECT_EQ(NormalizeCidr("0.0.0.0/0"), "0.0.0.0/0");
  EXPECT_FALSE(NormalizeCidr("10.1.0.1/24"));  // host bits set
  EXPECT_FALSE(NormalizeCidr("10.1.0.0/33"));
  EXPECT_FALSE(NormalizeCidr("10.1.0.0"));
  EXPECT_FALSE(NormalizeCidr("10.1.0/24"));
  EXPECT_FALSE(NormalizeCidr("fd00::/129"));
}

}  // namespace
}  // namespace tvd::policy
