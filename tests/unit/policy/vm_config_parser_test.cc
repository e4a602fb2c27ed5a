// VM configurations: the libvirt parts the project relies on, the strict TVD
// metadata, template versus final mode, each rule with its exact error.
#include "tvd/policy/vm_config_parser.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "tvd/policy/canonical.h"

namespace tvd::policy {
namespace {

using testing::kA;
using testing::kB;
using testing::kC;
using testing::Mutate;

// Line numbers are referred to by the cases below.
const std::string kVm = R"(<domain type="qemu">
  <name>cms-server</name>
  <uuid>12345678-1234-4234-8234-123456789abc</uuid>
  <os>
    <type>hvm</type>
    <kernel>/images/vmlinuz</kernel>
    <initrd>/images/initrd.img</initrd>
  </os>
  <devices>
    <disk type="file" device="disk">
      <source file="/images/disk.img"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <interface type="ethernet">
      <target dev="cms0"/>
    </interface>
  </devices>
  <metadata>
    <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
      <tvd:measure type="kernel" sha256=")" +
                        kA + R"("/>
      <tvd:measure type="initrd" sha256=")" +
                        kB + R"("/>
      <tvd:measure type="disk" target="vda" sha256=")" +
                        kC + R"("/>
      <tvd:encryption type="disk" target="vda"/>
      <tvd:vnet target="cms0" network="blue-data"/>
    </tvd:tvd>
  </metadata>
</domain>
)";

TEST(VmConfigParserTest, ParsesFinalConfig) {
  auto vm = ParseVmConfig(kVm, "vm.xml", VmConfigMode::kFinal);
  ASSERT_TRUE(vm.ok()) << vm.status().message();
  EXPECT_EQ(vm->name, "cms-server");
  EXPECT_EQ(vm->uuid, "12345678-1234-4234-8234-123456789abc");
  EXPECT_EQ(vm->kernel_path, "/images/vmlinuz");
  EXPECT_EQ(vm->initrd_path, "/images/initrd.img");
  ASSERT_EQ(vm->disks.size(), 1u);
  EXPECT_EQ(vm->disks[0], (DomainDisk{"vda", "/images/disk.img"}));
  EXPECT_EQ(vm->interface_targets, std::vector<std::string>{"cms0"});
  EXPECT_EQ(vm->tvd.owner, "blue");
  ASSERT_EQ(vm->tvd.measures.size(), 3u);
  EXPECT_EQ(ToHex(*vm->FindMeasure(MeasureType::kKernel)->sha256), kA);
  EXPECT_EQ(ToHex(*vm->FindMeasure(MeasureType::kDisk, "vda")->sha256), kC);
  EXPECT_EQ(vm->tvd.encrypted_disks, std::vector<std::string>{"vda"});
  EXPECT_TRUE(vm->tvd.encrypted_disk_create_mib.empty());
  EXPECT_EQ(vm->tvd.vnets,
            (std::vector<VnetBinding>{{"cms0", std::string("blue-data")}}));
  EXPECT_FALSE(vm->IsTemplate());
}

TEST(VmConfigParserTest, AsksForAVtpm) {
  auto none = ParseVmConfig(kVm, "vm.xml", VmConfigMode::kFinal);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->tvd.vtpm);
  EXPECT_EQ(ToJson(*none).find("vtpm"), std::string::npos);
  auto vm = ParseVmConfig(Mutate(kVm, "      <tvd:encryption",
                                 "      <tvd:vtpm/>\n      <tvd:encryption"),
                          "vm.xml", VmConfigMode::kFinal);
  ASSERT_TRUE(vm.ok()) << vm.status().message();
  EXPECT_TRUE(vm->tvd.vtpm);
  EXPECT_NE(ToJson(*vm).find("\"vtpm\":true"), std::string::npos);
}

TEST(VmConfigParserTest, EncryptedDiskMayGiveTheSizeToCreateItWith) {
  auto vm = ParseVmConfig(
      Mutate(kVm, R"(<tvd:encryption type="disk" target="vda"/>)",
             R"(<tvd:encryption type="disk" target="vda" create-mib="64"/>)"),
      "vm.xml", VmConfigMode::kFinal);
  ASSERT_TRUE(vm.ok()) << vm.status().message();
  EXPECT_EQ(vm->tvd.encrypted_disk_create_mib,
            (std::map<std::string, std::uint64_t>{{"vda", 64}}));
  EXPECT_NE(ToJson(*vm).find("\"encrypted-disk-create-mib\""),
            std::string::npos);
}

TEST(VmConfigParserTest, TemplateAllowedOnlyInTemplateMode) {
  const std::string tmpl = Mutate(Mutate(kVm, R"( sha256=")" + kA + "\"", ""),
                                  R"( network="blue-data")", "");
  auto as_template =
      ParseVmConfig(tmpl, "t.xml", VmConfigMode::kTemplateAllowed);
  ASSERT_TRUE(as_template.ok()) << as_template.status().message();
  EXPECT_TRUE(as_template->IsTemplate());
  auto as_final = ParseVmConfig(tmpl, "t.xml", VmConfigMode::kFinal);
  ASSERT_FALSE(as_final.ok());
  EXPECT_EQ(as_final.status().message(),
            "t.xml:20: <tvd:measure>: missing sha256 for type 'kernel' (a "
            "template; fill it with 'tvdctl policy derive')");
  auto no_net = ParseVmConfig(Mutate(kVm, R"( network="blue-data")", ""),
                              "t.xml", VmConfigMode::kFinal);
  ASSERT_FALSE(no_net.ok());
  EXPECT_EQ(no_net.status().message(),
            "t.xml:24: <tvd:vnet>: missing network for 'cms0' (a template; "
            "fill it with 'tvdctl policy derive')");
}

TEST(VmConfigParserTest, KeepsOtherMetadataAndAcceptsOtherPrefixes) {
  // Another application's metadata is left alone; our namespace may use any
  // prefix, declared on <metadata> or <domain>.
  std::string text = Mutate(kVm, "  <metadata>\n",
                            "  <metadata xmlns:t=\"urn:tvd:vm:1\">\n"
                            "    <app:x xmlns:app=\"urn:other\"><y/></app:x>\n"
                            "    <tvd xmlns=\"urn:other\"/>\n");
  text = Mutate(text, R"(<tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">)",
                R"(<t:tvd owner="blue">)");
  text = Mutate(text, "</tvd:tvd>", "</t:tvd>");
  for (std::size_t pos; (pos = text.find("<tvd:")) != std::string::npos;) {
    text.replace(pos, 5, "<t:");
  }
  auto vm = ParseVmConfig(text, "vm.xml", VmConfigMode::kFinal);
  ASSERT_TRUE(vm.ok()) << vm.status().message();
  EXPECT_EQ(vm->tvd.measures.size(), 3u);
}

struct VmErrorCase {
  const char* name;
  std::string from;
  std::string to;
  std::string error;
  VmConfigMode mode = VmConfigMode::kTemplateAllowed;
  // Names the case in test listings instead of dumping its bytes.
  friend void PrintTo(const VmErrorCase& c, std::ostream* os) { *os << c.name; }
};

class VmConfigErrorTest : public ::testing::TestWithParam<VmErrorCase> {};

TEST_P(VmConfigErrorTest, ExactError) {
  const VmErrorCase& c = GetParam();
  auto vm = ParseVmConfig(Mutate(kVm, c.from, c.to), "vm.xml", c.mode);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(vm.status().message(), c.error);
}

constexpr VmConfigMode kFinal = VmConfigMode::kFinal;

INSTANTIATE_TEST_SUITE_P(
    Rules, VmConfigErrorTest,
    ::testing::Values(
        // The libvirt body.
        VmErrorCase{"DomainMissingType", R"(<domain type="qemu">)", "<domain>",
                    "vm.xml:1: <domain>: missing required attribute 'type'"},
        VmErrorCase{"MissingName", "  <name>cms-server</name>\n", "",
                    "vm.xml:1: <domain>: missing required element <name>"},
        VmErrorCase{
            "DuplicateName", "  <name>cms-server</name>\n",
            "  <name>cms-server</name>\n  <name>x</name>\n",
            "vm.xml:3: <domain>: duplicate element <name> (first at line "
            "2)"},
        VmErrorCase{"BadName", "<name>cms-server</name>",
                    "<name>cms server</name>",
                    "vm.xml:2: <name>: must be a VM name "
                    "([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), got 'cms server'"},
        VmErrorCase{"NameWithChild", "<name>cms-server</name>",
                    "<name><b>x</b></name>",
                    "vm.xml:2: <name>: unknown element <b>"},
        VmErrorCase{"BadUuid",
                    "<uuid>12345678-1234-4234-8234-123456789abc</uuid>",
                    "<uuid>1234</uuid>",
                    "vm.xml:3: <uuid>: must be a UUID (8-4-4-4-12 hex digits), "
                    "got '1234'"},
        VmErrorCase{"RelativeKernel", "<kernel>/images/vmlinuz</kernel>",
                    "<kernel>vmlinuz</kernel>",
                    "vm.xml:6: <kernel>: must be an absolute path, got "
                    "'vmlinuz'"},
        VmErrorCase{"DuplicateKernel", "<kernel>/images/vmlinuz</kernel>",
                    "<kernel>/images/vmlinuz</kernel><kernel>/x</kernel>",
                    "vm.xml:6: <os>: duplicate element <kernel> (first at line "
                    "6)"},
        VmErrorCase{"DiskWithoutTarget",
                    R"(      <target dev="vda" bus="virtio"/>)", "",
                    "vm.xml:10: <disk>: missing required element <target>"},
        VmErrorCase{"DiskTargetWithoutDev",
                    R"(<target dev="vda" bus="virtio"/>)",
                    R"(<target bus="virtio"/>)",
                    "vm.xml:12: <target>: missing required attribute 'dev'"},
        VmErrorCase{
            "DiskBadTarget", R"(<target dev="vda" bus="virtio"/>)",
            R"(<target dev="../vda" bus="virtio"/>)",
            "vm.xml:12: <target>: attribute 'dev' must be a disk target "
            "like 'vda', got '../vda'"},
        VmErrorCase{
            "DuplicateDiskTarget", "    </disk>\n",
            "    </disk>\n    <disk><target dev=\"vda\"/></disk>\n",
            "vm.xml:14: <target>: duplicate disk target 'vda' (first at "
            "line 12)"},
        VmErrorCase{"DiskRelativeSource",
                    R"(<source file="/images/disk.img"/>)",
                    R"(<source file="disk.img"/>)",
                    "vm.xml:11: <source>: attribute 'file' must be an absolute "
                    "path, got 'disk.img'"},
        VmErrorCase{"InterfaceBadTarget", R"(<target dev="cms0"/>)",
                    R"(<target dev="a-very-long-interface-name"/>)",
                    "vm.xml:15: <target>: attribute 'dev' must be an interface "
                    "name (at most 15 of [A-Za-z0-9_.-]), got "
                    "'a-very-long-interface-name'"},
        VmErrorCase{"DuplicateInterfaceTarget", "    </interface>\n",
                    "    </interface>\n    <interface><target "
                    "dev=\"cms0\"/></interface>\n",
                    "vm.xml:17: <target>: duplicate interface target 'cms0' "
                    "(first at line 15)"},
        VmErrorCase{"Figure15Owner", "  <metadata>\n",
                    "  <owner type='tvd'>blue</owner>\n  <metadata>\n",
                    "vm.xml:18: <owner>: figure-15 element; convert the file "
                    "with 'tvdctl policy import-fig15'"},
        // The TVD metadata.
        VmErrorCase{"MetadataWithoutTvd", R"(xmlns:tvd="urn:tvd:vm:1")",
                    R"(xmlns:tvd="urn:tvd:vm:2")",
                    "vm.xml:18: <metadata>: missing required element <tvd:tvd "
                    "xmlns:tvd=\"urn:tvd:vm:1\">"},
        VmErrorCase{"DuplicateTvd", "    </tvd:tvd>\n",
                    "    </tvd:tvd>\n    <tvd:tvd xmlns:tvd=\"urn:tvd:vm:1\" "
                    "owner=\"red\"/>\n",
                    "vm.xml:26: <metadata>: duplicate element <tvd:tvd> (first "
                    "at line 19)"},
        VmErrorCase{"TvdUnknownAttribute", R"(owner="blue">)",
                    R"(owner="blue" trusted="yes">)",
                    "vm.xml:19: <tvd:tvd>: unknown attribute 'trusted'"},
        VmErrorCase{"TvdMissingOwner", R"( owner="blue")", "",
                    "vm.xml:19: <tvd:tvd>: missing required attribute 'owner'"},
        VmErrorCase{
            "TvdBadOwner", R"(owner="blue")", R"(owner="blue.tvd.opentc.net")",
            "vm.xml:19: <tvd:tvd>: attribute 'owner' must be a TVD name "
            "([a-z][a-z0-9-]{0,30}), got 'blue.tvd.opentc.net'"},
        VmErrorCase{"TvdUnknownElement", "      <tvd:encryption",
                    "      <tvd:firewall/>\n      <tvd:encryption",
                    "vm.xml:23: <tvd:tvd>: unknown element <tvd:firewall>"},
        VmErrorCase{"TvdUnprefixedElement", "      <tvd:encryption",
                    "      <measure type=\"config\"/>\n      <tvd:encryption",
                    "vm.xml:23: <tvd:tvd>: unknown element <measure>"},
        VmErrorCase{"DuplicateVtpm", "      <tvd:encryption",
                    "      <tvd:vtpm/>\n      <tvd:vtpm/>\n      <tvd:encryption",
                    "vm.xml:24: <tvd:vtpm>: duplicate vtpm (first at line 23)"},
        VmErrorCase{"VtpmAttribute", "      <tvd:encryption",
                    "      <tvd:vtpm model=\"tpm-tis\"/>\n      <tvd:encryption",
                    "vm.xml:23: <tvd:vtpm>: unknown attribute 'model'"},
        VmErrorCase{"TvdText", "      <tvd:encryption",
                    "      secret\n      <tvd:encryption",
                    "vm.xml:23: <tvd:tvd>: unexpected text 'secret'"},
        VmErrorCase{"MeasureBadType", R"(type="initrd")", R"(type="ramdisk")",
                    "vm.xml:21: <tvd:measure>: attribute 'type' must be one of "
                    "config, kernel, initrd, disk, got 'ramdisk'"},
        VmErrorCase{"MeasureBadDigest", R"(sha256=")" + kB + "\"",
                    R"(sha256="")",
                    "vm.xml:21: <tvd:measure>: attribute 'sha256' must be 64 "
                    "hex digits, got ''"},
        VmErrorCase{"MeasureDuplicate", R"(<tvd:measure type="initrd")",
                    R"(<tvd:measure type="kernel")",
                    "vm.xml:21: <tvd:measure>: duplicate measure 'kernel' "
                    "(first at line 20)"},
        VmErrorCase{"MeasureDiskNoTarget",
                    R"(<tvd:measure type="disk" target="vda")",
                    R"(<tvd:measure type="disk")",
                    "vm.xml:22: <tvd:measure>: missing required attribute "
                    "'target' (required for type 'disk')"},
        VmErrorCase{"EncryptionBadType", R"(<tvd:encryption type="disk")",
                    R"(<tvd:encryption type="memory")",
                    "vm.xml:23: <tvd:encryption>: attribute 'type' must be "
                    "'disk', got 'memory'"},
        VmErrorCase{"EncryptionMissingTarget",
                    R"(<tvd:encryption type="disk" target="vda"/>)",
                    R"(<tvd:encryption type="disk"/>)",
                    "vm.xml:23: <tvd:encryption>: missing required attribute "
                    "'target'"},
        VmErrorCase{
            "EncryptionDuplicate",
            R"(<tvd:encryption type="disk" target="vda"/>)",
            R"(<tvd:encryption type="disk" target="vda"/><tvd:encryption target="vda" type="disk"/>)",
            "vm.xml:23: <tvd:encryption>: duplicate encryption of disk "
            "'vda' (first at line 23)"},
        VmErrorCase{
            "EncryptionUnknownAttribute",
            R"(<tvd:encryption type="disk" target="vda"/>)",
            R"(<tvd:encryption type="disk" target="vda" cipher="aes"/>)",
            "vm.xml:23: <tvd:encryption>: unknown attribute 'cipher'"},
        VmErrorCase{
            "EncryptionCreateSizeZero",
            R"(<tvd:encryption type="disk" target="vda"/>)",
            R"(<tvd:encryption type="disk" target="vda" create-mib="0"/>)",
            "vm.xml:23: <tvd:encryption>: attribute 'create-mib' must be "
            "a whole number of MiB from 1 to 16777216, got '0'"},
        VmErrorCase{
            "EncryptionCreateSizeUnit",
            R"(<tvd:encryption type="disk" target="vda"/>)",
            R"(<tvd:encryption type="disk" target="vda" create-mib="1G"/>)",
            "vm.xml:23: <tvd:encryption>: attribute 'create-mib' must be "
            "a whole number of MiB from 1 to 16777216, got '1G'"},
        VmErrorCase{"VnetBadNetwork", R"(network="blue-data")",
                    R"(network="Blue Data")",
                    "vm.xml:24: <tvd:vnet>: attribute 'network' must be a "
                    "network name ([a-z][a-z0-9-]{0,30}), got 'Blue Data'"},
        VmErrorCase{
            "VnetMissingTarget", R"(<tvd:vnet target="cms0")", "<tvd:vnet",
            "vm.xml:24: <tvd:vnet>: missing required attribute 'target'"},
        VmErrorCase{"VnetDuplicate",
                    R"(<tvd:vnet target="cms0" network="blue-data"/>)",
                    R"(<tvd:vnet target="cms0" network="blue-data"/>
      <tvd:vnet target="cms0" network="blue-mgmt"/>)",
                    "vm.xml:25: <tvd:vnet>: duplicate vnet 'cms0' (first at "
                    "line 24)"},
        VmErrorCase{
            "VnetChild", R"(<tvd:vnet target="cms0" network="blue-data"/>)",
            R"(<tvd:vnet target="cms0" network="blue-data"><x/></tvd:vnet>)",
            "vm.xml:24: <tvd:vnet>: unknown element <x>"},
        // Final-mode cross references.
        VmErrorCase{"KernelMeasuredButAbsent",
                    "    <kernel>/images/vmlinuz</kernel>\n", "",
                    "vm.xml:19: <tvd:measure>: type 'kernel' is measured but "
                    "the domain has no <os><kernel>",
                    kFinal},
        VmErrorCase{"InitrdMeasuredButAbsent",
                    "    <initrd>/images/initrd.img</initrd>\n", "",
                    "vm.xml:20: <tvd:measure>: type 'initrd' is measured but "
                    "the domain has no <os><initrd>",
                    kFinal},
        VmErrorCase{"MeasuredDiskAbsent",
                    R"(<tvd:measure type="disk" target="vda")",
                    R"(<tvd:measure type="disk" target="vdb")",
                    "vm.xml:22: <tvd:measure>: disk target 'vdb' is not a disk "
                    "of the domain",
                    kFinal},
        VmErrorCase{"EncryptedDiskAbsent",
                    R"(<tvd:encryption type="disk" target="vda"/>)",
                    R"(<tvd:encryption type="disk" target="vdc"/>)",
                    "vm.xml:23: <tvd:encryption>: disk target 'vdc' is not a "
                    "disk of the domain",
                    kFinal},
        VmErrorCase{"VnetInterfaceAbsent", R"(<tvd:vnet target="cms0")",
                    R"(<tvd:vnet target="cms9")",
                    "vm.xml:24: <tvd:vnet>: target 'cms9' is not an interface "
                    "target of the domain",
                    kFinal}),
    [](const ::testing::TestParamInfo<VmErrorCase>& info) {
      return std::string(info.param.name);
    });

TEST(VmConfigParserTest, MissingMetadataElement) {
  std::string text = kVm;
  const std::size_t b = text.find("  <metadata>");
  const std::size_t e = text.find("</metadata>\n") + 12;
  text.erase(b, e - b);
  auto vm = ParseVmConfig(text, "vm.xml", VmConfigMode::kTemplateAllowed);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.status().message(),
            "vm.xml:1: <domain>: missing required element <metadata> with the "
            "TVD settings <tvd:tvd xmlns:tvd=\"urn:tvd:vm:1\">");
}

TEST(VmConfigParserTest, ConfigMeasureMustMatchTheDomain) {
  auto tmpl = ParseVmConfig(kVm, "vm.xml", VmConfigMode::kTemplateAllowed);
  ASSERT_TRUE(tmpl.ok());
  const std::string good = ToHex(tmpl->ConfigDigest());
  const std::string with_config =
      Mutate(kVm, "      <tvd:measure type=\"kernel\"",
             "      <tvd:measure type=\"config\" sha256=\"" + good +
                 "\"/><tvd:measure type=\"kernel\"");
  EXPECT_TRUE(ParseVmConfig(with_config, "vm.xml", VmConfigMode::kFinal).ok());
  // Any change to the domain body breaks it.
  auto edited =
      ParseVmConfig(Mutate(with_config, "<type>hvm</type>",
                           "<type>hvm</type><cmdline>init=/bin/sh</cmdline>"),
                    "vm.xml", VmConfigMode::kFinal);
  ASSERT_FALSE(edited.ok());
  auto expected =
      ParseVmConfig(Mutate(kVm, "<type>hvm</type>",
                           "<type>hvm</type><cmdline>init=/bin/sh</cmdline>"),
                    "vm.xml", VmConfigMode::kTemplateAllowed);
  ASSERT_TRUE(expected.ok());
  EXPECT_NE(ToHex(expected->ConfigDigest()), good);
  EXPECT_EQ(edited.status().message(),
            "vm.xml:20: <tvd:measure>: config sha256 does not match the "
            "domain configuration (its canonical form hashes to " +
                ToHex(expected->ConfigDigest()) + ")");
}

TEST(VmConfigParserTest, WrongRoot) {
  auto vm = ParseVmConfig("<tvd-policy/>", "vm.xml", VmConfigMode::kFinal);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.status().message(),
            "vm.xml:1: root element is <tvd-policy>, expected <domain>");
}

}  // namespace
}  // namespace tvd::policy
