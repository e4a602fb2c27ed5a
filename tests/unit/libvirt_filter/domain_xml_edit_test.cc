// The relay's small reads and edits of domain XML: <uuid>, disks, and the
// proxy's admission marks.
#include "tvd/libvirt_filter/domain_xml_edit.h"

#include <gtest/gtest.h>

namespace tvd::libvirt_filter {
namespace {

constexpr char kUuid[] = "b1000000-0000-4000-8000-000000000001";

TEST(WithDomainUuidTest, ReplacesEveryUuidWithOneAfterTheName) {
  StatusOr<std::string> xml = WithDomainUuid(
      "<domain><name>blue-a</name><uuid>x</uuid><memory>1</memory>"
      "<uuid>2ed00000-0000-4000-8000-000000000001</uuid></domain>",
      UuidFromString(kUuid));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ(*xml, "<domain>\n    <name>blue-a</name>\n    <uuid>" +
                      std::string(kUuid) +
                      "</uuid>\n    <memory>1</memory>\n</domain>\n");
}

TEST(WithDomainUuidTest, RemovesEveryUuid) {
  StatusOr<std::string> xml = WithDomainUuid(
      "<domain><uuid>a</uuid><name>n</name><uuid>b</uuid></domain>",
      std::nullopt);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ(*xml, "<domain>\n    <name>n</name>\n</domain>\n");
}

TEST(WithDomainUuidTest, RefusesWhatIsNotADomain) {
  EXPECT_EQ(WithDomainUuid("<network/>", std::nullopt).status(),
            InvalidArgument("domain XML: root element is not <domain>"));
  EXPECT_EQ(WithDomainUuid("<domain>", std::nullopt).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(DomainDisksTest, EveryDiskOfEveryDevicesSectionWithDefaults) {
  StatusOr<std::vector<DomainDisk>> disks = DomainDisks(
      "<domain><devices>"
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
      "<source file='/s/a.qcow2'/></disk>"
      "<disk><source file='/s/b.img'/></disk>"
      "<interface type='network'/>"
      "</devices><devices>"
      "<disk type='block' device='lun'><source dev='/dev/sda'/></disk>"
      "<disk type='file' device='cdrom'/>"
      "</devices></domain>");
  ASSERT_TRUE(disks.ok()) << disks.status().ToString();
  ASSERT_EQ(disks->size(), 4u);
  auto row = [](const DomainDisk& d) {
    return d.type + "|" + d.device + "|" + (d.has_source ? "src" : "-") + "|" +
           d.file + "|" + d.format;
  };
  EXPECT_EQ(row((*disks)[0]), "file|disk|src|/s/a.qcow2|qcow2");
  EXPECT_EQ(row((*disks)[1]), "file|disk|src|/s/b.img|raw");
  EXPECT_EQ(row((*disks)[2]), "block|lun|src||raw");
  EXPECT_EQ(row((*disks)[3]), "file|cdrom|-||raw");
}

TEST(HasProxyAdmissionTest, MeasureOrVnetInTheTvdElement) {
  EXPECT_TRUE(*HasProxyAdmission(
      "<domain><metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='blue'>"
      "<tvd:measure type='config' sha256='00'/></tvd:tvd></metadata>"
      "</domain>"));
  EXPECT_TRUE(*HasProxyAdmission(
      "<domain><metadata><tvd owner='blue' xmlns='urn:tvd:vm:1'>"
      "<vnet target='b0' network='blue-data'/></tvd></metadata></domain>"));
  // Only the owner: a tenant's own definition.
  EXPECT_FALSE(*HasProxyAdmission(
      "<domain><metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='blue'/>"
      "</metadata></domain>"));
  // A measure in another application's metadata is not the proxy's.
  EXPECT_FALSE(*HasProxyAdmission(
      "<domain><metadata><app:x xmlns:app='urn:other'><app:measure/>"
      "</app:x></metadata></domain>"));
  EXPECT_FALSE(*HasProxyAdmission("<domain><name>n</name></domain>"));
  EXPECT_EQ(HasProxyAdmission("<domain").status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tvd::libvirt_filter
