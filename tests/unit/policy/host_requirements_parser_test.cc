// The standalone host TCB requirement template. The rules of its content are
// shared with <host-requirements> inside a TVD policy and tested there; here
// the document-level rules.
#include "tvd/policy/host_requirements_parser.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace tvd::policy {
namespace {

using testing::Mutate;

const std::string kRequirementsTemplate =
    R"(<?xml version="1.0"?>
<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="true"
                   attestation-interval="60">
  <pcr bank="sha256" index="0">
    <known-good value=")" +
    std::string(64, '1') + R"("/>
    <known-good value=")" +
    std::string(64, '2') + R"("/>
  </pcr>
</host-requirements>
)";

TEST(HostRequirementsParserTest, ParsesTemplate) {
  auto hr = ParseHostRequirements(kRequirementsTemplate, "h.xml");
  ASSERT_TRUE(hr.ok()) << hr.status().message();
  EXPECT_TRUE(hr->allow_no_tpm);
  EXPECT_EQ(hr->attestation_interval_seconds, 60u);
  ASSERT_EQ(hr->pcrs.size(), 1u);
  EXPECT_EQ(hr->pcrs[0].known_good.size(), 2u);
  EXPECT_FALSE(hr->ima_allowlist);
}

TEST(HostRequirementsParserTest, ImaAllowlistAlone) {
  auto hr = ParseHostRequirements(
      R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="86400"><ima-allowlist path="/etc/a" sha256=")" +
          std::string(64, 'F') + R"("/></host-requirements>)",
      "h.xml");
  ASSERT_TRUE(hr.ok()) << hr.status().message();
  EXPECT_TRUE(hr->pcrs.empty());
  ASSERT_TRUE(hr->ima_allowlist);
  EXPECT_EQ(ToHex(hr->ima_allowlist->sha256), std::string(64, 'f'));
}

TEST(HostRequirementsParserTest, DocumentErrors) {
  auto Error = [](const std::string& text) {
    auto hr = ParseHostRequirements(text, "h.xml");
    return hr.ok() ? std::string("OK") : hr.status().message();
  };
  EXPECT_EQ(
      Error(Mutate(kRequirementsTemplate, R"(xmlns="urn:tvd:policy:1" )", "")),
      "h.xml:2: <host-requirements>: missing required attribute "
      "'xmlns'");
  EXPECT_EQ(
      Error(Mutate(kRequirementsTemplate, "urn:tvd:policy:1", "urn:tvd:vm:1")),
      "h.xml:2: <host-requirements>: attribute 'xmlns' must be "
      "'urn:tvd:policy:1', got 'urn:tvd:vm:1'");
  EXPECT_EQ(Error(Mutate(kRequirementsTemplate, R"(allow-no-tpm="true")", "")),
            "h.xml:2: <host-requirements>: missing required attribute "
            "'allow-no-tpm'");
  EXPECT_EQ(Error(Mutate(kRequirementsTemplate, R"(attestation-interval="60")",
                         R"(attestation-interval="60" name="x")")),
            "h.xml:3: <host-requirements>: unknown attribute 'name'");
  EXPECT_EQ(Error(Mutate(kRequirementsTemplate,
                         R"(<known-good value=")" + std::string(64, '2'),
                         R"(<known-good value=")" + std::string(64, '1'))),
            "h.xml:6: <known-good>: duplicate value for PCR 0 (first at line "
            "5)");
  EXPECT_EQ(Error("<tvd-policy xmlns='urn:tvd:policy:1'/>"),
            "h.xml:1: root element is <tvd-policy>, expected "
            "<host-requirements>");
}

}  // namespace
}  // namespace tvd::policy
