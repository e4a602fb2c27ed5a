// The proxy's tap names and their rewriting into the domain XML.
#include "tvd/proxy/tap_name.h"

#include <gtest/gtest.h>

#include "tvd/proxy/vm_admission.h"

namespace tvd::proxy {
namespace {

TEST(TapNameTest, IsTheKnownDigestPrefix) {
  // Pinned (SHA-256 of "tvd-tap\0blue\01\0web\00", computed apart): a
  // newer build must name an admitted VM's taps as the old one did.
  const std::string name = TapName("blue", 1, "web", 0);
  EXPECT_EQ(name, "tvde51cdb62e48c");
  EXPECT_TRUE(name.starts_with(kTapNamePrefix));
  EXPECT_EQ(name.size(), 15u);
  EXPECT_EQ(name, TapName("blue", 1, "web", 0));
  EXPECT_NE(name, TapName("blue", 1, "web", 1));
}

TEST(WithTapNamesTest, RenamesTheTargetInEveryDevicesSection) {
  const std::string xml =
      "<domain><name>web</name><devices>"
      "<interface type='ethernet'><target dev='nic0'/></interface>"
      "<interface type='ethernet'><target dev='other'/></interface>"
      "</devices><devices>"
      "<interface type='ethernet'><target dev='nic0'/></interface>"
      "</devices></domain>";
  auto out = WithTapNames(xml, {{"nic0", "tvd0123456789ab"}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->find("\"nic0\""), std::string::npos) << *out;
  std::size_t first = out->find("<target dev=\"tvd0123456789ab\"/>");
  ASSERT_NE(first, std::string::npos) << *out;
  EXPECT_NE(out->find("<target dev=\"tvd0123456789ab\"/>", first + 1),
            std::string::npos)
      << *out;
  EXPECT_NE(out->find("<target dev=\"other\"/>"), std::string::npos) << *out;
}

TEST(WithTapNamesTest, UnknownTargetIsNotFound) {
  EXPECT_EQ(
      WithTapNames("<domain><devices/></domain>", {{"nic0", "tvd0123456789ab"}})
          .status(),
      NotFound("domain XML: no interface with target 'nic0'"));
  EXPECT_EQ(WithTapNames("<domain", {}).status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tvd::proxy
