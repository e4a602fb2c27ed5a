// Canonical forms: stable under formatting, comments, attribute and set
// order; different when any semantic value changes.
#include "tvd/policy/canonical.h"

#include <gtest/gtest.h>
#include <tinyxml2.h>

#include "test_util.h"
#include "tvd/policy/host_requirements_parser.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {
namespace {

using testing::kA;
using testing::kB;
using testing::kC;
using testing::Mutate;

const std::string kCanonicalPolicy =
    R"(<tvd-policy xmlns="urn:tvd:policy:1" name="blue" id="1">
  <owner subject="CN=blue-tenant,O=Blue"/>
  <networks>
    <network name="blue-data" kind="data" vni="1001" subnet="10.1.0.0/24"/>
    <network name="blue-mgmt" kind="management" vni="1002"/>
  </networks>
  <transport>
    <ipsec ike="aes256gcm16-prfsha256-ecp256" esp="aes256gcm16-ecp256"/>
  </transport>
  <host-requirements allow-no-tpm="false" attestation-interval="300">
    <pcr bank="sha256" index="7"><known-good value=")" +
    kA + R"("/><known-good value=")" + kB + R"("/></pcr>
    <pcr bank="sha256" index="0"><known-good value=")" +
    kA + R"("/></pcr>
    <ima-allowlist path="/etc/tvd/ima.txt" sha256=")" +
    kB + R"("/>
  </host-requirements>
  <authorized-hosts>
    <host subject="CN=host-a,O=VDC"/>
    <host subject="CN=host-b,O=VDC"/>
  </authorized-hosts>
  <vms>
    <vm name="cms-server">
      <measure type="kernel" sha256=")" +
    kA + R"("/>
      <measure type="disk" target="vda" sha256=")" +
    kB + R"("/>
    </vm>
    <vm name="tvd-mgmt"><measure type="config" sha256=")" +
    kA + R"("/></vm>
    <vm name="extra"><measure type="initrd" sha256=")" +
    kB + R"("/></vm>
  </vms>
  <gateways>
    <gateway vm="red-gateway" peer="red"/>
    <gateway vm="red-gateway" peer="green"/>
  </gateways>
  <key-release>
    <disk-key vm="cms-server"/>
    <disk-key vm="tvd-mgmt"/>
  </key-release>
</tvd-policy>
)";

std::string PolicyDigest(const std::string& text) {
  auto p = ParseTvdPolicy(text, "p.xml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? ToHex(CanonicalDigest(*p)) : "error";
}

TEST(CanonicalTest, PolicyFormIsCompactSortedJson) {
  auto p = ParseTvdPolicy(kCanonicalPolicy, "p.xml");
  ASSERT_TRUE(p.ok());
  const std::string json = ToJson(*p);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_EQ(
      json.rfind(
          R"({"authorized-hosts":["CN=host-a,O=VDC","CN=host-b,O=VDC"],"format":"tvd-policy/1",)",
          0),
      0u)
      << json;
  // Sets are sorted: gateways by (vm, peer), PCRs by index.
  EXPECT_NE(
      json.find(
          R"("gateways":[{"peer":"green","vm":"red-gateway"},{"peer":"red","vm":"red-gateway"}])"),
      std::string::npos)
      << json;
  EXPECT_LT(json.find(R"("index":0)"), json.find(R"("index":7)"));
  EXPECT_EQ(ToHex(CanonicalDigest(*p)), ToHex(Sha256(json)));
}

// Quotas came after the first policies were signed: a policy without
// <quotas> keeps the digest it had before quotas existed.
TEST(CanonicalTest, PolicyWithoutQuotasKeepsItsDigest) {
  EXPECT_EQ(PolicyDigest(kCanonicalPolicy),
            "223417a47cec896b18af754479c9b98e78d53e9ead229e533dae70deb148dd8f");
  auto p = ParseTvdPolicy(kCanonicalPolicy, "p.xml");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(ToJson(*p).find("quotas"), std::string::npos);
}

TEST(CanonicalTest, PolicyQuotasAreInTheCanonicalForm) {
  auto p =
      ParseTvdPolicy(Mutate(kCanonicalPolicy, "</key-release>\n",
                            "</key-release>\n  <quotas><per-host vcpus=\"16\" "
                            "domains=\"8\"/></quotas>\n"),
                     "p.xml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const std::string json = ToJson(*p);
  EXPECT_NE(json.find(R"("quotas":{"per-host":{"domains":8,"vcpus":16}})"),
            std::string::npos)
      << json;
}

TEST(CanonicalTest, TotalQuotaIsInTheCanonicalForm) {
  auto p = ParseTvdPolicy(
      Mutate(kCanonicalPolicy, "</key-release>\n",
             "</key-release>\n  <quotas><total vcpus=\"32\"/><per-host "
             "vcpus=\"16\"/></quotas>\n"),
      "p.xml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const std::string json = ToJson(*p);
  EXPECT_NE(
      json.find(R"("quotas":{"per-host":{"vcpus":16},"total":{"vcpus":32}})"),
      std::string::npos)
      << json;
}

TEST(CanonicalTest, PolicyDigestIgnoresPresentation) {
  const std::string base = PolicyDigest(kCanonicalPolicy);
  // Whitespace and line breaks.
  std::string squeezed;
  for (char c : kCanonicalPolicy) {
    if (c != '\n') squeezed += c;
  }
  EXPECT_EQ(PolicyDigest(squeezed), base);
  // Comments, an XML declaration, attribute order, quote style.
  EXPECT_EQ(
      PolicyDigest("<?xml version='1.0'?>\n<!-- hello -->\n" +
                   Mutate(Mutate(kCanonicalPolicy, R"(name="blue" id="1")",
                                 R"(id='1'  name='blue')"),
                          "  <networks>", "  <!-- nets --><networks>")),
      base);
  // Order of set elements.
  std::string reordered = Mutate(
      kCanonicalPolicy,
      "<network name=\"blue-data\" kind=\"data\" vni=\"1001\" "
      "subnet=\"10.1.0.0/24\"/>\n    <network name=\"blue-mgmt\" "
      "kind=\"management\" vni=\"1002\"/>",
      "<network vni=\"1002\" name=\"blue-mgmt\" kind=\"management\"/>\n    "
      "<network name=\"blue-data\" kind=\"data\" vni=\"1001\" "
      "subnet=\"10.1.0.0/24\"/>");
  reordered = Mutate(reordered,
                     "<host subject=\"CN=host-a,O=VDC\"/>\n    <host "
                     "subject=\"CN=host-b,O=VDC\"/>",
                     "<host subject=\"CN=host-b,O=VDC\"/>\n    <host "
                     "subject=\"CN=host-a,O=VDC\"/>");
  reordered = Mutate(
      reordered,
      "<known-good value=\"" + kA + "\"/><known-good value=\"" + kB + "\"/>",
      "<known-good value=\"" + kB + "\"/><known-good value=\"" + kA + "\"/>");
  reordered = Mutate(reordered,
                     "<gateway vm=\"red-gateway\" peer=\"red\"/>\n    <gateway "
                     "vm=\"red-gateway\" peer=\"green\"/>",
                     "<gateway vm=\"red-gateway\" peer=\"green\"/>\n    "
                     "<gateway vm=\"red-gateway\" peer=\"red\"/>");
  EXPECT_EQ(PolicyDigest(reordered), base);
  // Digest case and CIDR spelling are normalized.
  EXPECT_EQ(PolicyDigest(
                Mutate(kCanonicalPolicy, "sha256=\"" + kB + "\"/>\n  </host",
                       "sha256=\"" + std::string(64, 'B') + "\"/>\n  </host")),
            base);
}

struct FieldChange {
  const char* name;
  std::string from;
  std::string to;
  // Names the case in test listings instead of dumping its bytes.
  friend void PrintTo(const FieldChange& c, std::ostream* os) { *os << c.name; }
};

class CanonicalFieldTest : public ::testing::TestWithParam<FieldChange> {};

TEST_P(CanonicalFieldTest, EverySemanticValueChangesTheDigest) {
  const FieldChange& c = GetParam();
  const std::string changed =
      PolicyDigest(Mutate(kCanonicalPolicy, c.from, c.to));
  EXPECT_NE(changed, "error");
  EXPECT_NE(changed, PolicyDigest(kCanonicalPolicy));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, CanonicalFieldTest,
    ::testing::Values(
        FieldChange{"Name", R"(name="blue")", R"(name="blue2")"},
        FieldChange{"Id", R"(id="1")", R"(id="2")"},
        FieldChange{"Owner", "O=Blue\"", "O=Blue2\""},
        FieldChange{"NetworkName", R"(name="blue-mgmt")", R"(name="blue-m")"},
        FieldChange{"NetworkKind", R"(kind="data")", R"(kind="management")"},
        FieldChange{"NetworkVni", R"(vni="1002")", R"(vni="1003")"},
        FieldChange{"NetworkSubnet", R"(subnet="10.1.0.0/24")",
                    R"(subnet="10.1.0.0/16")"},
        FieldChange{"NetworkSubnetAdded", R"(vni="1002"/>)",
                    R"(vni="1002" subnet="10.2.0.0/24"/>)"},
        FieldChange{"Ike", R"(ike="aes256gcm16-prfsha256-ecp256")",
                    R"(ike="aes256gcm16-prfsha384-ecp384")"},
        FieldChange{"Esp", R"(esp="aes256gcm16-ecp256")",
                    R"(esp="aes256gcm16")"},
        FieldChange{"AllowNoTpm", R"(allow-no-tpm="false")",
                    R"(allow-no-tpm="true")"},
        FieldChange{"Interval", R"(attestation-interval="300")",
                    R"(attestation-interval="301")"},
        FieldChange{"PcrIndex", R"(index="0")", R"(index="1")"},
        FieldChange{
            "PcrValue", "<known-good value=\"" + kA + "\"/></pcr>\n",
            "<known-good value=\"" + std::string(64, 'c') + "\"/></pcr>\n"},
        FieldChange{"ImaPath", R"(path="/etc/tvd/ima.txt")",
                    R"(path="/etc/tvd/ima2.txt")"},
        FieldChange{"ImaDigest", "sha256=\"" + kB + "\"/>\n  </host",
                    "sha256=\"" + kA + "\"/>\n  </host"},
        FieldChange{"Host", R"(CN=host-b,O=VDC)", R"(CN=host-c,O=VDC)"},
        FieldChange{"VmName", R"(<vm name="extra">)", R"(<vm name="extra2">)"},
        FieldChange{"MeasureType", R"(<measure type="kernel")",
                    R"(<measure type="initrd")"},
        FieldChange{"MeasureTarget", R"(target="vda")", R"(target="vdb")"},
        FieldChange{"MeasureDigest", R"(<measure type="kernel" sha256=")" + kA,
                    R"(<measure type="kernel" sha256=")" + kB},
        FieldChange{"GatewayVm", R"(<gateway vm="red-gateway" peer="red"/>)",
                    R"(<gateway vm="red-gw" peer="red"/>)"},
        FieldChange{"GatewayPeer", R"(peer="green")", R"(peer="yellow")"},
        FieldChange{"DiskKey", "    <disk-key vm=\"tvd-mgmt\"/>\n", ""},
        FieldChange{"QuotaAdded", "</key-release>\n",
                    "</key-release>\n<quotas><per-host domains=\"8\"/>"
                    "</quotas>\n"},
        FieldChange{"TotalQuotaAdded", "</key-release>\n",
                    "</key-release>\n<quotas><total domains=\"8\"/>"
                    "</quotas>\n"}),
    [](const ::testing::TestParamInfo<FieldChange>& info) {
      return std::string(info.param.name);
    });

TEST(CanonicalTest, HostRequirementsDigest) {
  const std::string t =
      R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60"><pcr bank="sha256" index="7"><known-good value=")" +
      kA + R"("/></pcr></host-requirements>)";
  auto a = ParseHostRequirements(t, "h.xml");
  auto b = ParseHostRequirements(
      "<!-- c -->\n" +
          Mutate(t, "allow-no-tpm=\"false\" attestation-interval=\"60\"",
                 "attestation-interval=\"60\"\n allow-no-tpm=\"false\""),
      "h.xml");
  auto c = ParseHostRequirements(Mutate(t, "\"60\"", "\"61\""), "h.xml");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(CanonicalDigest(*a), CanonicalDigest(*b));
  EXPECT_NE(CanonicalDigest(*a), CanonicalDigest(*c));
  EXPECT_EQ(
      ToJson(*a),
      R"({"allow-no-tpm":false,"attestation-interval":60,"format":"tvd-host-requirements/1","pcrs":[{"bank":"sha256","index":7,"known-good":[")" +
          kA + R"("]}]})");
}

TEST(CanonicalTest, DomainCanonicalXml) {
  auto doc = ParseXml(
      "<?xml version='1.0'?>\n<!-- x -->\n<domain type='kvm' id=\"3\">\n"
      "  <name> vm1 </name>\n"
      "  <os><cmdline>a  &amp; b</cmdline></os>\n"
      "  <devices>\n    <disk z='1' a='&lt;&quot;'/>\n  </devices>\n"
      "  <metadata>\n    <tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='b'/>\n"
      "  </metadata>\n</domain>",
      "d.xml");
  ASSERT_TRUE(doc.ok());
  const tinyxml2::XMLElement* domain = (*doc)->RootElement();
  const tinyxml2::XMLElement* tvd =
      domain->FirstChildElement("metadata")->FirstChildElement();
  EXPECT_EQ(CanonicalDomainXml(*domain, tvd),
            "<domain id=\"3\" type=\"kvm\"><name>vm1</name><os><cmdline>a  "
            "&amp; b</cmdline></os><devices><disk a=\"&lt;&quot;\" "
            "z=\"1\"></disk></devices></domain>");
  EXPECT_EQ(CanonicalDomainXml(*domain, nullptr),
            "<domain id=\"3\" type=\"kvm\"><name>vm1</name><os><cmdline>a  "
            "&amp; b</cmdline></os><devices><disk a=\"&lt;&quot;\" "
            "z=\"1\"></disk></devices><metadata><tvd:tvd "
            "owner=\"b\"></tvd:tvd></metadata></domain>");
}

const std::string kVm = R"(<domain type="qemu">
  <name>vm1</name>
  <os><kernel>/k</kernel></os>
  <metadata>
    <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
      <tvd:measure type="kernel" sha256=")" +
                        kA + R"("/>
      <tvd:vnet target="a0" network="blue-data"/>
      <tvd:vnet target="b0" network="blue-mgmt"/>
    </tvd:tvd>
  </metadata>
</domain>
)";

TEST(CanonicalTest, VmConfigDigests) {
  auto Parse = [](const std::string& t) {
    auto vm = ParseVmConfig(t, "vm.xml", VmConfigMode::kTemplateAllowed);
    EXPECT_TRUE(vm.ok()) << vm.status().message();
    return vm.ok() ? *vm : VmConfig{};
  };
  const VmConfig base = Parse(kVm);
  // Metadata changes leave the config measure alone but change the digest.
  const VmConfig owner = Parse(Mutate(kVm, "owner=\"blue\"", "owner=\"red\""));
  EXPECT_EQ(owner.ConfigDigest(), base.ConfigDigest());
  EXPECT_NE(CanonicalDigest(owner), CanonicalDigest(base));
  const VmConfig net =
      Parse(Mutate(kVm, "network=\"blue-mgmt\"", "network=\"x\""));
  EXPECT_NE(CanonicalDigest(net), CanonicalDigest(base));
  // Domain changes change both.
  const VmConfig kernel = Parse(Mutate(kVm, "/k<", "/k2<"));
  EXPECT_NE(kernel.ConfigDigest(), base.ConfigDigest());
  EXPECT_NE(CanonicalDigest(kernel), CanonicalDigest(base));
  // Presentation and vnet order change neither.
  const VmConfig same = Parse(
      "<!-- c -->" +
      Mutate(Mutate(kVm,
                    "<tvd:vnet target=\"a0\" network=\"blue-data\"/>\n      "
                    "<tvd:vnet target=\"b0\" network=\"blue-mgmt\"/>",
                    "<tvd:vnet network=\"blue-mgmt\" target=\"b0\"/><tvd:vnet "
                    "target=\"a0\" network=\"blue-data\"/>"),
             "  <os>", "<!-- os -->  <os  >"));
  EXPECT_EQ(same.ConfigDigest(), base.ConfigDigest());
  EXPECT_EQ(CanonicalDigest(same), CanonicalDigest(base));
}

}  // namespace
}  // namespace tvd::policy
