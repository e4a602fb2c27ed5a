// <measured-boot> in host requirements: the model, every error, and the
// canonical form.
#include <gtest/gtest.h>

#include "test_util.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/host_requirements_parser.h"

namespace tvd::policy {
namespace {

using testing::Mutate;

std::string D(char c) { return std::string(64, c); }

const std::string kMeasuredBootTemplate =
    R"(<?xml version="1.0"?>
<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false"
                   attestation-interval="60">
  <measured-boot secure-boot="required">
    <firmware sha256=")" +
    D('1') + R"("/>
    <firmware sha256=")" +
    D('2') + R"("/>
    <shim sha256=")" +
    D('3') + R"("/>
    <bootloader sha256=")" +
    D('4') + R"("/>
    <kernel sha256=")" +
    D('5') + R"("/>
    <pk sha256=")" +
    D('6') + R"("/>
    <kek sha256=")" +
    D('7') + R"("/>
    <db sha256=")" +
    D('8') + R"("/>
    <dbx sha256=")" +
    D('9') + R"("/>
    <!-- SMBIOS tables, as the firmware measured them -->
    <event pcr="1" type="EV_EFI_HANDOFF_TABLES2" sha256=")" +
    D('a') + R"("/>
    <event pcr="2" type="0x800000FF" sha256=")" +
    D('b') + R"("/>
  </measured-boot>
</host-requirements>
)";

std::string Error(const std::string& text) {
  auto hr = ParseHostRequirements(text, "h.xml");
  return hr.ok() ? std::string("OK") : hr.status().message();
}

Sha256Digest Digest(char c) { return *Sha256FromHex(D(c)); }

TEST(MeasuredBootPolicyTest, ParsesTheElement) {
  auto hr = ParseHostRequirements(kMeasuredBootTemplate, "h.xml");
  ASSERT_TRUE(hr.ok()) << hr.status().message();
  EXPECT_TRUE(hr->pcrs.empty());
  ASSERT_TRUE(hr->measured_boot);
  const MeasuredBootRequirement& mb = *hr->measured_boot;
  EXPECT_TRUE(mb.require_secure_boot);
  EXPECT_EQ(mb.firmware, (std::vector<Sha256Digest>{Digest('1'), Digest('2')}));
  EXPECT_EQ(mb.shim, std::vector<Sha256Digest>{Digest('3')});
  EXPECT_EQ(mb.bootloader, std::vector<Sha256Digest>{Digest('4')});
  EXPECT_EQ(mb.kernel, std::vector<Sha256Digest>{Digest('5')});
  EXPECT_EQ(mb.pk, std::vector<Sha256Digest>{Digest('6')});
  EXPECT_EQ(mb.kek, std::vector<Sha256Digest>{Digest('7')});
  EXPECT_EQ(mb.db, std::vector<Sha256Digest>{Digest('8')});
  EXPECT_EQ(mb.dbx, std::vector<Sha256Digest>{Digest('9')});
  ASSERT_EQ(mb.events.size(), 2u);
  EXPECT_EQ(mb.events[0],
            (MeasuredBootRequirement::Event{1, 0x8000000B, Digest('a')}));
  EXPECT_EQ(mb.events[1],
            (MeasuredBootRequirement::Event{2, 0x800000FF, Digest('b')}));

  // Secure Boot not required: no keys needed, and an element may be empty.
  hr = ParseHostRequirements(
      R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60"><measured-boot secure-boot="not-required"/></host-requirements>)",
      "h.xml");
  ASSERT_TRUE(hr.ok()) << hr.status().message();
  EXPECT_FALSE(hr->measured_boot->require_secure_boot);
  EXPECT_TRUE(hr->measured_boot->bootloader.empty());
}

TEST(MeasuredBootPolicyTest, Errors) {
  EXPECT_EQ(
      Error(Mutate(kMeasuredBootTemplate, R"( secure-boot="required")", "")),
      "h.xml:4: <measured-boot>: missing required attribute "
      "'secure-boot'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, R"(secure-boot="required")",
                         R"(secure-boot="yes")")),
            "h.xml:4: <measured-boot>: attribute 'secure-boot' must be "
            "'required' or 'not-required', got 'yes'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, R"(secure-boot="required")",
                         R"(secure-boot="required" pcrs="0-7")")),
            "h.xml:4: <measured-boot>: unknown attribute 'pcrs'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, "<pk sha256", "<pk2 sha256")),
            "h.xml:10: <measured-boot>: unknown element <pk2>");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate,
                         "<kek sha256=\"" + D('7') + "\"/>", "")),
            "h.xml:4: <measured-boot>: secure-boot='required' needs at least "
            "one <pk>, <kek> and <db>");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, D('2'), D('1'))),
            "h.xml:6: <firmware>: duplicate value (first at line 5)");
  // The same digest under two elements is not a duplicate.
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, D('4'), D('3'))), "OK");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, D('3'), "33")),
            "h.xml:7: <shim>: attribute 'sha256' must be 64 hex digits, got "
            "'33'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, "<bootloader sha256",
                         "<bootloader path=\"/boot/grub\" sha256")),
            "h.xml:8: <bootloader>: unknown attribute 'path'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, "\"/>\n    <kernel",
                         "\">x</bootloader>\n    <kernel")),
            "h.xml:8: <bootloader>: unexpected text 'x'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, R"(pcr="1")", R"(pcr="8")")),
            "h.xml:15: <event>: attribute 'pcr' must be an integer in 0..7, "
            "got '8'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, "EV_EFI_HANDOFF_TABLES2",
                         "EV_EFI_HANDOFF_TABLES3")),
            "h.xml:15: <event>: attribute 'type' must be a TCG event type "
            "name (EV_...) or 0x and 8 hex digits, got "
            "'EV_EFI_HANDOFF_TABLES3'");
  EXPECT_EQ(Error(Mutate(kMeasuredBootTemplate, "0x800000FF", "0x8000FF")),
            "h.xml:16: <event>: attribute 'type' must be a TCG event type "
            "name (EV_...) or 0x and 8 hex digits, got '0x8000FF'");
  EXPECT_EQ(
      Error(Mutate(kMeasuredBootTemplate, R"(<event pcr="1")", R"(<event)")),
      "h.xml:15: <event>: missing required attribute 'pcr'");
  // The same (PCR, type, digest) twice; 0x8000000b is EV_EFI_HANDOFF_TABLES2.
  EXPECT_EQ(Error(Mutate(Mutate(kMeasuredBootTemplate, D('b'), D('a')),
                         R"(pcr="2" type="0x800000FF")",
                         R"(pcr="1" type="0x8000000b")")),
            "h.xml:16: <event>: duplicate event (first at line 15)");
  std::string twice = Mutate(kMeasuredBootTemplate, "</host-requirements>",
                             "<measured-boot secure-boot=\"not-required\"/>"
                             "</host-requirements>");
  EXPECT_EQ(Error(twice),
            "h.xml:18: <host-requirements>: duplicate element <measured-boot> "
            "(first at line 4)");
  EXPECT_EQ(
      Error(
          R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60"/>)"),
      "h.xml:1: <host-requirements>: needs at least one <pcr>, "
      "<ima-allowlist> or <measured-boot>");
}

TEST(MeasuredBootPolicyTest, CanonicalForm) {
  auto a = ParseHostRequirements(kMeasuredBootTemplate, "h.xml");
  ASSERT_TRUE(a.ok());
  // Order within each list does not matter; any value does.
  auto b = ParseHostRequirements(
      Mutate(Mutate(Mutate(kMeasuredBootTemplate, D('1'), "@"), D('2'), D('1')),
             "@", D('2')),
      "h.xml");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_NE(a->measured_boot->firmware, b->measured_boot->firmware);
  EXPECT_EQ(CanonicalDigest(*a), CanonicalDigest(*b));
  auto c = ParseHostRequirements(
      Mutate(kMeasuredBootTemplate, R"(secure-boot="required")",
             R"(secure-boot="not-required")"),
      "h.xml");
  auto d = ParseHostRequirements(
      Mutate(kMeasuredBootTemplate, R"(pcr="2")", R"(pcr="3")"), "h.xml");
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_NE(CanonicalDigest(*a), CanonicalDigest(*c));
  EXPECT_NE(CanonicalDigest(*a), CanonicalDigest(*d));
  auto e = ParseHostRequirements(
      R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60"><measured-boot secure-boot="not-required"><kernel sha256=")" +
          D('5') + R"("/><event pcr="0" type="EV_POST_CODE" sha256=")" +
          D('c') + R"("/></measured-boot></host-requirements>)",
      "h.xml");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(
      ToJson(*e),
      R"({"allow-no-tpm":false,"attestation-interval":60,"format":"tvd-host-requirements/1","measured-boot":{"bootloader":[],"db":[],"dbx":[],"events":[{"pcr":0,"sha256":")" +
          D('c') + R"(","type":1}],"firmware":[],"kek":[],"kernel":[")" +
          D('5') +
          R"("],"pk":[],"secure-boot":"not-required","shim":[]},"pcrs":[]})");
}

}  // namespace
}  // namespace tvd::policy
