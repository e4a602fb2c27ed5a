// Deriving VM configurations from templates, with real files hashed.
#include "tvd/policy/vm_template.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/vm_config_parser.h"

namespace tvd::policy {
namespace {

using testing::Mutate;

const std::string kTemplate = R"(<?xml version="1.0"?>
<!-- a template comment that must not survive derive -->
<domain type="qemu">
  <name>template</name>
  <os><type>hvm</type></os>
  <devices>
    <disk type="file" device="disk"><target dev="vda"/></disk>
    <disk type="block" device="disk"><source dev="/dev/sdz"/><target dev="vdb"/></disk>
    <interface type="ethernet"><target dev="cms0"/></interface>
    <interface type="ethernet"><target dev="cms1"/></interface>
  </devices>
  <metadata>
    <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
      <tvd:measure type="config"/>
      <tvd:measure type="kernel"/>
      <tvd:measure type="initrd"/>
      <tvd:measure type="disk" target="vda"/>
      <tvd:encryption type="disk" target="vdb"/>
      <tvd:vnet target="cms0"/>
      <tvd:vnet target="cms1" network="blue-mgmt"/>
    </tvd:tvd>
  </metadata>
</domain>
)";

class VmTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("tvd-derive-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    Write("vmlinuz", "kernel image");
    Write("initrd.img", "initrd image");
    Write("disk.img", "disk image");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ / name, std::ios::binary) << data;
  }
  std::string Path(const std::string& name) const { return dir_ / name; }

  DeriveParams Params() const {
    DeriveParams p;
    p.name = "cms-server-1";
    p.uuid = "12345678-1234-4234-8234-123456789abc";
    p.kernel_path = Path("vmlinuz");
    p.initrd_path = Path("initrd.img");
    p.disks = {{"vda", Path("disk.img")}, {"vdb", Path("data.img")}};
    p.networks = {{"cms0", "blue-data"}};
    return p;
  }

  std::filesystem::path dir_;
};

TEST_F(VmTemplateTest, FillsEverythingAndHashesTheFiles) {
  auto d = DeriveVm(kTemplate, "t.xml", Params());
  ASSERT_TRUE(d.ok()) << d.status().message();
  const VmConfig& vm = d->config;
  EXPECT_FALSE(vm.IsTemplate());
  EXPECT_EQ(vm.name, "cms-server-1");
  EXPECT_EQ(vm.uuid, "12345678-1234-4234-8234-123456789abc");
  EXPECT_EQ(vm.kernel_path, Path("vmlinuz"));
  EXPECT_EQ(vm.FindDisk("vda")->source_file, Path("disk.img"));
  // The block disk became a file disk with the given image.
  EXPECT_EQ(vm.FindDisk("vdb")->source_file, Path("data.img"));
  EXPECT_EQ(d->xml.find("/dev/sdz"), std::string::npos);
  EXPECT_EQ(vm.tvd.vnets,
            (std::vector<VnetBinding>{{"cms0", std::string("blue-data")},
                                      {"cms1", std::string("blue-mgmt")}}));
  EXPECT_EQ(*vm.FindMeasure(MeasureType::kKernel)->sha256,
            Sha256(std::string_view("kernel image")));
  EXPECT_EQ(*vm.FindMeasure(MeasureType::kInitrd)->sha256,
            Sha256(std::string_view("initrd image")));
  EXPECT_EQ(*vm.FindMeasure(MeasureType::kDisk, "vda")->sha256,
            Sha256(std::string_view("disk image")));
  EXPECT_EQ(*vm.FindMeasure(MeasureType::kConfig)->sha256, vm.ConfigDigest());
  EXPECT_EQ(d->xml.find("template comment"), std::string::npos);
  EXPECT_NE(d->xml.find("derived from t.xml"), std::string::npos);
  // Derive is deterministic for the same inputs.
  auto again = DeriveVm(kTemplate, "t.xml", Params());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->xml, d->xml);
  // And the output is a final VM configuration on its own.
  EXPECT_TRUE(ParseVmConfig(d->xml, "out.xml", VmConfigMode::kFinal).ok());
}

TEST_F(VmTemplateTest, RandomUuidWhenNoneGiven) {
  DeriveParams p = Params();
  p.uuid.reset();
  auto a = DeriveVm(kTemplate, "t.xml", p);
  auto b = DeriveVm(kTemplate, "t.xml", p);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->config.uuid && b->config.uuid);
  EXPECT_NE(*a->config.uuid, *b->config.uuid);
  EXPECT_EQ(a->config.uuid->substr(14, 1), "4");  // version 4
}

TEST_F(VmTemplateTest, ParameterErrors) {
  auto Error = [&](DeriveParams p) {
    auto d = DeriveVm(kTemplate, "t.xml", p);
    return d.ok() ? std::string("OK") : d.status().message();
  };
  DeriveParams p = Params();
  p.name = "bad name";
  EXPECT_EQ(Error(p),
            "--name: must be a VM name ([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), got "
            "'bad name'");
  p = Params();
  p.uuid = "xyz";
  EXPECT_EQ(Error(p),
            "--uuid: must be a UUID (8-4-4-4-12 hex digits), got 'xyz'");
  p = Params();
  p.kernel_path = "vmlinuz";
  EXPECT_EQ(Error(p), "--kernel: must be an absolute path, got 'vmlinuz'");
  p = Params();
  p.disks.push_back({"vdz", Path("disk.img")});
  EXPECT_EQ(Error(p), "--disk vdz: the template has no disk with target 'vdz'");
  p = Params();
  p.networks.push_back({"cms7", "blue-data"});
  EXPECT_EQ(Error(p), "--net cms7: the template has no vnet 'cms7'");
  p = Params();
  p.networks = {{"cms0", "Blue"}};
  EXPECT_EQ(Error(p),
            "--net cms0: must be a network name ([a-z][a-z0-9-]{0,30}), got "
            "'Blue'");
  p = Params();
  p.networks.clear();
  EXPECT_EQ(Error(p), "vnet 'cms0' has no network; give --net cms0=NETWORK");
  p = Params();
  p.kernel_path.reset();
  EXPECT_EQ(Error(p), "measure 'kernel': no image path; give --kernel PATH");
  p = Params();
  p.disks = {{"vdb", Path("data.img")}};
  EXPECT_EQ(Error(p),
            "measure 'disk' target 'vda': no image path; give --disk vda=PATH");
  p = Params();
  p.initrd_path = Path("missing.img");
  EXPECT_EQ(Error(p), "measure 'initrd': cannot open " + Path("missing.img") +
                          ": No such file or directory");
}

TEST_F(VmTemplateTest, TemplateErrorsKeepTheirLines) {
  auto d = DeriveVm(Mutate(kTemplate, "owner=\"blue\"", "owner=\"\""), "t.xml",
                    Params());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "t.xml:13: <tvd:tvd>: attribute 'owner' must be a TVD name "
            "([a-z][a-z0-9-]{0,30}), got ''");
}

TEST_F(VmTemplateTest, UsesAFakeHasherWhenGiven) {
  int calls = 0;
  auto d = DeriveVm(kTemplate, "t.xml", Params(),
                    [&](const std::string&) -> StatusOr<Sha256Digest> {
                      ++calls;
                      return Sha256(std::string_view("x"));
                    });
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(calls, 3);  // kernel, initrd, disk vda (config is not a file)
}

}  // namespace
}  // namespace tvd::policy
