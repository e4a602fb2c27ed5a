// The figure-15 example (tests/unit/policy/data/fig15.xml: the figure as
// published, with its one broken quote repaired and its annotations turned
// into XML comments) imports and converts into the metadata form.
#include "tvd/policy/fig15_import.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {
namespace {

using testing::Mutate;

const std::string kFig15Path =
    std::string(TVD_SOURCE_DIR) + "/tests/unit/policy/data/fig15.xml";

TEST(Fig15ImportTest, Figure15ExampleImportsAndConverts) {
  auto text = ReadPolicyFile(kFig15Path);
  ASSERT_TRUE(text.ok()) << text.status().message();
  // As written it is not a VM configuration of ours.
  auto direct =
      ParseVmConfig(*text, "fig15.xml", VmConfigMode::kTemplateAllowed);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.status().message(),
            "fig15.xml:13: <owner>: figure-15 element; convert the file with "
            "'tvdctl policy import-fig15'");

  auto imported = ImportFig15(*text, "fig15.xml");
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  const VmConfig& vm = imported->config;
  EXPECT_EQ(vm.name, "tvd_mgmt_vm");
  EXPECT_EQ(vm.kernel_path, "/var/vdc/kernels/l4linux_minimal.img");
  EXPECT_EQ(vm.initrd_path, "/var/vdc/blue.tvd.opentc.net/initrd.img");
  EXPECT_EQ(vm.tvd.owner, "blue");
  ASSERT_EQ(vm.tvd.measures.size(), 4u);
  EXPECT_EQ(vm.tvd.measures[0], (Measurement{MeasureType::kConfig, "", {}}));
  EXPECT_EQ(vm.tvd.measures[1], (Measurement{MeasureType::kKernel, "", {}}));
  EXPECT_EQ(vm.tvd.measures[2], (Measurement{MeasureType::kInitrd, "", {}}));
  EXPECT_EQ(vm.tvd.measures[3], (Measurement{MeasureType::kDisk, "xvda1", {}}));
  EXPECT_EQ(vm.tvd.encrypted_disks, std::vector<std::string>{"xvda1"});
  EXPECT_EQ(vm.tvd.vnets, (std::vector<VnetBinding>{{"vif-1.0", {}}}));
  EXPECT_TRUE(vm.IsTemplate());

  // The figure-15 elements are gone from the body; the rest is kept.
  EXPECT_EQ(imported->xml.find("<owner"), std::string::npos);
  EXPECT_EQ(imported->xml.find("<security"), std::string::npos);
  EXPECT_NE(imported->xml.find("<cmdline>mem=64m video=l4fb</cmdline>"),
            std::string::npos);
  EXPECT_NE(imported->xml.find("<type>l4linux</type>"), std::string::npos);
  EXPECT_NE(
      imported->xml.find("<tvd:tvd xmlns:tvd=\"urn:tvd:vm:1\" owner=\"blue\">"),
      std::string::npos);

  EXPECT_EQ(imported->notes,
            (std::vector<std::string>{
                "fig15.xml:13: owner 'blue.tvd.opentc.net' mapped to TVD name "
                "'blue'",
                "fig15.xml:18: measure 'config' has no digest; the result is a "
                "template",
                "fig15.xml:21: measure 'kernel' has no digest; the result is a "
                "template",
                "fig15.xml:24: measure 'initrd' has no digest; the result is a "
                "template",
                "fig15.xml:27: measure attribute name='dsk1' dropped (disks "
                "are identified by target)",
                "fig15.xml:27: measure 'disk' has no digest; the result is a "
                "template",
                "fig15.xml:31: vnet 'vif-1.0' has no network; the result is a "
                "template",
                "fig15.xml:31: vnet attribute type='usernet' dropped (TVD "
                "networks are bound by name)",
            }));

  // The converted text is itself a valid VM template.
  EXPECT_TRUE(
      ParseVmConfig(imported->xml, "out.xml", VmConfigMode::kTemplateAllowed)
          .ok());
}

const std::string kSmall = R"(<domain type='kvm'>
  <name>vm1</name>
  <metadata><app:x xmlns:app="urn:other"/></metadata>
  <owner type='tvd'>red</owner>
  <security mode='tvd'>
    <measure type='kernel'>)" +
                           std::string(64, 'A') + R"(</measure>
    <vnet target='red0' network='red-data'/>
  </security>
</domain>
)";

TEST(Fig15ImportTest, KeepsDigestsAndExistingMetadata) {
  auto imported = ImportFig15(kSmall, "s.xml");
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  EXPECT_TRUE(imported->notes.empty());
  EXPECT_FALSE(imported->config.IsTemplate());
  EXPECT_EQ(imported->config.tvd.owner, "red");
  EXPECT_EQ(ToHex(*imported->config.tvd.measures[0].sha256),
            std::string(64, 'a'));
  EXPECT_NE(imported->xml.find("<app:x xmlns:app=\"urn:other\"/>"),
            std::string::npos);
}

TEST(Fig15ImportTest, Errors) {
  auto Error = [](const std::string& text) {
    auto r = ImportFig15(text, "s.xml");
    return r.ok() ? std::string("OK") : r.status().message();
  };
  EXPECT_EQ(Error(Mutate(kSmall, "  <owner type='tvd'>red</owner>\n", "")),
            "s.xml:1: <domain>: missing required element <owner>");
  EXPECT_EQ(Error(Mutate(kSmall, "<owner type='tvd'>", "<owner type='user'>")),
            "s.xml:4: <owner>: attribute 'type' must be 'tvd', got 'user'");
  EXPECT_EQ(Error(Mutate(kSmall, ">red<", ">Red TVD<")),
            "s.xml:4: <owner>: must be a TVD name or a DNS name whose first "
            "label is one, got 'Red TVD'");
  EXPECT_EQ(Error(Mutate(kSmall, "<security mode='tvd'>", "<security>")),
            "s.xml:5: <security>: missing required attribute 'mode'");
  EXPECT_EQ(Error(Mutate(kSmall, std::string(64, 'A'), "abc")),
            "s.xml:6: <measure>: content must be a 64-hex-digit sha256, empty "
            "or '...', got 'abc'");
  EXPECT_EQ(
      Error(Mutate(kSmall, "<measure type='kernel'>", "<measure type='bios'>")),
      "s.xml:6: <measure>: attribute 'type' must be one of config, "
      "kernel, initrd, disk, got 'bios'");
  EXPECT_EQ(Error(Mutate(kSmall, "<vnet target='red0'", "<vnet target='a/b'")),
            "s.xml:7: <vnet>: attribute 'target' must be an interface name (at "
            "most 15 of [A-Za-z0-9_.-]), got 'a/b'");
  EXPECT_EQ(Error(Mutate(kSmall, "<vnet ", "<firewall/><vnet ")),
            "s.xml:7: <security>: unknown element <firewall>");
  EXPECT_EQ(
      Error(Mutate(kSmall, "</security>", "</security><security mode='tvd'/>")),
      "s.xml:8: <domain>: duplicate element <security> (first at line "
      "5)");
  // Not XML at all: the loader's error.
  EXPECT_EQ(Error("<domain"),
            "s.xml:1: not well-formed XML: malformed element");
}

}  // namespace
}  // namespace tvd::policy
