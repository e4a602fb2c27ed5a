// Owner extraction and confinement of tenant domain XML.
#include "tvd/libvirt_filter/domain_xml.h"

#include <gtest/gtest.h>

namespace tvd::libvirt_filter {
namespace {

TenantScope Blue() {
  TenantScope s;
  s.tvd = "blue";
  s.storage_path = "/var/lib/tvd/blue";
  s.networks = {"blue-data", "blue-mgmt"};
  return s;
}

std::string Domain(const std::string& devices, const std::string& metadata = "",
                   const std::string& root_attrs = "") {
  return "<domain type='kvm'" + root_attrs +
         "><name>vm1</name><uuid>12345678-1234-4234-8234-123456789abc</uuid>"
         "<devices>" +
         devices + "</devices>" + metadata + "</domain>";
}

TEST(OwnerFromDomainXmlTest, ReadsTheTvdElementWhateverItsPrefix) {
  StatusOr<std::string> o = OwnerFromDomainXml(Domain(
      "", "<metadata><x:tvd xmlns:x='urn:tvd:vm:1' owner='red'/></metadata>"));
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(*o, "red");
}

TEST(OwnerFromDomainXmlTest, OtherNamespacesDoNotCount) {
  StatusOr<std::string> o = OwnerFromDomainXml(Domain(
      "", "<metadata><tvd:tvd xmlns:tvd='urn:other' owner='red'/></metadata>"));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o, "");
}

TEST(OwnerFromDomainXmlTest, NoMetadataMeansNoOwner) {
  StatusOr<std::string> o = OwnerFromDomainXml(Domain(""));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o, "");
}

TEST(OwnerFromDomainXmlTest, TwoTvdElementsAreAnError) {
  EXPECT_EQ(
      OwnerFromDomainXml(Domain("",
                                "<metadata><a:tvd xmlns:a='urn:tvd:vm:1' "
                                "owner='red'/><b:tvd xmlns:b='urn:tvd:vm:1' "
                                "owner='blue'/></metadata>"))
          .status(),
      InvalidArgument("domain XML has more than one TVD element"));
}

TEST(ConfineDomainXmlTest, ForcesTheOwnerAndKeepsTheRest) {
  StatusOr<ConfinedDomain> c = ConfineDomainXml(
      Domain("<disk type='file'><source file='/var/lib/tvd/blue/a.img'/>"
             "<target dev='vda'/></disk>",
             "<metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='red'>"
             "<tvd:measure type='kernel'/></tvd:tvd></metadata>"),
      Blue());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "vm1");
  EXPECT_EQ(UuidToString(*c->uuid), "12345678-1234-4234-8234-123456789abc");
  StatusOr<std::string> owner = OwnerFromDomainXml(c->xml);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, "blue");
  EXPECT_NE(c->xml.find("tvd:measure type=\"kernel\""), std::string::npos);
  EXPECT_NE(c->xml.find("/var/lib/tvd/blue/a.img"), std::string::npos);
}

TEST(ConfineDomainXmlTest, AddsMetadataWhenAbsent) {
  StatusOr<ConfinedDomain> c = ConfineDomainXml(Domain(""), Blue());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*OwnerFromDomainXml(c->xml), "blue");
}

TEST(ConfineDomainXmlTest, HostDevicesAreDenied) {
  EXPECT_EQ(
      ConfineDomainXml(Domain("<hostdev mode='subsystem'/>"), Blue()).status(),
      PermissionDenied("<hostdev>: host devices are not allowed"));
  EXPECT_EQ(
      ConfineDomainXml(Domain("<interface type='hostdev'/>"), Blue()).status(),
      PermissionDenied("<interface type='hostdev'>: only NICs on the TVD's "
                       "networks are allowed"));
  EXPECT_EQ(
      ConfineDomainXml(Domain("<filesystem type='mount'/>"), Blue()).status(),
      PermissionDenied(
          "<filesystem>: host directory pass-through is not allowed"));
}

TEST(ConfineDomainXmlTest, QemuCommandLineIsDenied) {
  EXPECT_EQ(
      ConfineDomainXml(
          Domain("",
                 "<qemu:commandline><qemu:arg value='-x'/>"
                 "</qemu:commandline>",
                 " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"),
          Blue())
          .status(),
      PermissionDenied(
          "<domain>: namespace declaration xmlns:qemu="
          "'http://libvirt.org/schemas/domain/qemu/1.0' is not allowed "
          "outside <metadata> (no driver pass-through such as "
          "qemu:commandline)"));
  // Undeclared prefix: still refused.
  EXPECT_EQ(ConfineDomainXml(Domain("", "<qemu:commandline/>"), Blue())
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
}

TEST(ConfineDomainXmlTest, DisksOnlyUnderTheStoragePath) {
  EXPECT_EQ(
      ConfineDomainXml(Domain("<disk type='file'><source "
                              "file='/var/lib/tvd/blue/../red/x.img'/></disk>"),
                       Blue())
          .status(),
      PermissionDenied("<disk><source "
                       "file='/var/lib/tvd/blue/../red/x.img'>: disk "
                       "images must lie under /var/lib/tvd/blue/"));
  EXPECT_EQ(
      ConfineDomainXml(Domain("<disk type='block'><source dev='/dev/sda'/>"
                              "</disk>"),
                       Blue())
          .status(),
      PermissionDenied("<disk type='block'>: only file disks under "
                       "/var/lib/tvd/blue are allowed"));
  EXPECT_EQ(
      ConfineDomainXml(Domain("<disk type='file'><source "
                              "file='/var/lib/tvd/blue/a' dev='/dev/sda'/>"
                              "</disk>"),
                       Blue())
          .status(),
      PermissionDenied("<disk><source dev>: only <source file> is allowed"));
  // An empty CD-ROM drive has no source.
  EXPECT_TRUE(ConfineDomainXml(Domain("<disk type='file' device='cdrom'>"
                                      "<target dev='hdc'/></disk>"),
                               Blue())
                  .ok());
}

TEST(ConfineDomainXmlTest, NicsOnlyOnTheTvdsNetworks) {
  EXPECT_TRUE(ConfineDomainXml(Domain("<interface type='network'><source "
                                      "network='blue-data'/></interface>"),
                               Blue())
                  .ok());
  EXPECT_EQ(ConfineDomainXml(Domain("<interface type='network'><source "
                                    "network='default'/></interface>"),
                             Blue())
                .status(),
            PermissionDenied("<interface type='network'><source "
                             "network='default'>: not a network of TVD blue"));
  EXPECT_EQ(
      ConfineDomainXml(Domain("<interface type='user'/>"), Blue()).status(),
      PermissionDenied("<interface type='user'>: only NICs on the TVD's "
                       "networks are allowed"));
  std::string bridged =
      "<interface type='bridge'><source bridge='br-int'/>"
      "<target dev='cms0'/></interface>";
  EXPECT_EQ(ConfineDomainXml(Domain(bridged), Blue()).status(),
            PermissionDenied("<interface type='bridge'>: a bridged NIC needs "
                             "a target dev bound by <tvd:vnet> to a network "
                             "of TVD blue"));
  EXPECT_TRUE(
      ConfineDomainXml(Domain(bridged,
                              "<metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' "
                              "owner='blue'><tvd:vnet target='cms0' "
                              "network='blue-data'/></tvd:tvd></metadata>"),
                       Blue())
          .ok());
  EXPECT_EQ(ConfineDomainXml(Domain(bridged,
                                    "<metadata><tvd:tvd "
                                    "xmlns:tvd='urn:tvd:vm:1' "
                                    "owner='blue'><tvd:vnet target='cms0' "
                                    "network='red-data'/></tvd:tvd></"
                                    "metadata>"),
                             Blue())
                .status(),
            PermissionDenied("<tvd:vnet target='cms0' network='red-data'>: "
                             "not a network of TVD blue"));
}

TEST(ConfineDomainXmlTest, TapNicsOnlyBoundToTheTvdsNetworks) {
  const std::string blue_vnet =
      "<metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='blue'><tvd:vnet "
      "target='cms0' network='blue-data'/></tvd:tvd></metadata>";
  const std::string tap =
      "<interface type='ethernet'><mac address='52:54:00:00:00:01'/>"
      "<target dev='cms0'/><model type='virtio'/></interface>";
  EXPECT_TRUE(ConfineDomainXml(Domain(tap, blue_vnet), Blue()).ok());
  EXPECT_EQ(ConfineDomainXml(Domain(tap), Blue()).status(),
            PermissionDenied("<interface type='ethernet'>: a tap NIC needs a "
                             "target dev bound by <tvd:vnet> to a network of "
                             "TVD blue"));
  EXPECT_EQ(ConfineDomainXml(Domain(tap,
                                    "<metadata><tvd:tvd "
                                    "xmlns:tvd='urn:tvd:vm:1' "
                                    "owner='blue'><tvd:vnet target='cms0' "
                                    "network='red-data'/></tvd:tvd></"
                                    "metadata>"),
                             Blue())
                .status(),
            PermissionDenied("<tvd:vnet target='cms0' network='red-data'>: "
                             "not a network of TVD blue"));
  // Nothing that acts on the host side of the tap.
  for (const std::string& extra :
       {std::string("<script path='/bin/sh'/>"),
        std::string("<downscript path='/bin/sh'/>"),
        std::string("<ip address='192.0.2.1' prefix='24'/>"),
        std::string("<route address='192.0.2.0' prefix='24' "
                    "gateway='192.0.2.1'/>")}) {
    std::string nic = "<interface type='ethernet'><target dev='cms0'/>" +
                      extra + "</interface>";
    std::string name = extra.substr(1, extra.find(' ') - 1);
    EXPECT_EQ(ConfineDomainXml(Domain(nic, blue_vnet), Blue()).status(),
              PermissionDenied("<interface type='ethernet'><" + name +
                               ">: not allowed (only mac, target, model, "
                               "address, alias, mtu)"))
        << extra;
  }
  EXPECT_EQ(
      ConfineDomainXml(Domain("<interface type='ethernet'><target dev='cms0' "
                              "managed='no'/></interface>",
                              blue_vnet),
                       Blue())
          .status(),
      PermissionDenied("<interface type='ethernet'><target "
                       "managed=...>: not allowed (libvirt must create "
                       "the tap itself)"));
}

TEST(ConfineDomainXmlTest, MalformedXmlIsAnXmlError) {
  EXPECT_EQ(
      ConfineDomainXml("<domain><name>x</domain>", Blue()).status().code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConfineDomainXml("<network/>", Blue()).status(),
            InvalidArgument("domain XML: root element is not <domain>"));
  EXPECT_EQ(ConfineDomainXml("<!DOCTYPE x [<!ENTITY a 'b'>]><domain/>", Blue())
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConfineDomainXml("<domain><name>a</name><uuid>123</uuid></domain>",
                             Blue())
                .status(),
            InvalidArgument("domain XML: <uuid> '123' is not of the form "
                            "8-4-4-4-12"));
}

TEST(IsPathUnderTest, Rules) {
  EXPECT_TRUE(IsPathUnder("/var/lib/tvd/blue/a.img", "/var/lib/tvd/blue"));
  EXPECT_TRUE(IsPathUnder("/var/lib/tvd/blue/d/a.img", "/var/lib/tvd/blue/"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue2/a", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue/../x", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue//x", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue/./x", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("/var/lib/tvd/blue/x/", "/var/lib/tvd/blue"));
  EXPECT_FALSE(IsPathUnder("relative/x", "/var/lib/tvd/blue"));
}

}  // namespace
}  // namespace tvd::libvirt_filter
