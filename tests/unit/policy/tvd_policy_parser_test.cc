// One case per validation rule of the TVD policy schema: a known-good policy
// is edited in one place and the exact "FILE:LINE: message" is checked.
#include "tvd/policy/tvd_policy_parser.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace tvd::policy {
namespace {

using testing::kA;
using testing::kB;
using testing::kC;
using testing::Mutate;

const std::string kD(64, 'd');

// Line numbers are referred to by the cases below; keep one element a line.
const std::string kPolicy =
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
    kA + R"("/></pcr>
    <ima-allowlist path="/etc/tvd/ima.txt" sha256=")" +
    kB + R"("/>
  </host-requirements>
  <authorized-hosts>
    <host subject="CN=host-a,O=VDC"/>
  </authorized-hosts>
  <vms>
    <vm name="cms-server">
      <measure type="kernel" sha256=")" +
    kC + R"("/>
      <measure type="disk" target="vda" sha256=")" +
    kD + R"("/>
    </vm>
  </vms>
  <gateways>
    <gateway vm="red-gateway" peer="red"/>
  </gateways>
  <key-release>
    <disk-key vm="cms-server"/>
  </key-release>
</tvd-policy>
)";

TEST(TvdPolicyParserTest, ParsesEveryPart) {
  auto p = ParseTvdPolicy(kPolicy, "p.xml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "blue");
  EXPECT_EQ(p->id, 1u);
  EXPECT_EQ(p->owner, "CN=blue-tenant,O=Blue");
  ASSERT_EQ(p->networks.size(), 2u);
  EXPECT_EQ(p->networks[0],
            (Network{"blue-data", NetworkKind::kData, 1001, "10.1.0.0/24"}));
  EXPECT_EQ(p->networks[1],
            (Network{"blue-mgmt", NetworkKind::kManagement, 1002, {}}));
  EXPECT_EQ(p->transport.ike_proposal, "aes256gcm16-prfsha256-ecp256");
  EXPECT_EQ(p->transport.esp_proposal, "aes256gcm16-ecp256");
  const HostRequirements& hr = p->host_requirements;
  EXPECT_FALSE(hr.allow_no_tpm);
  EXPECT_EQ(hr.attestation_interval_seconds, 300u);
  ASSERT_EQ(hr.pcrs.size(), 1u);
  EXPECT_EQ(hr.pcrs[0].bank, "sha256");
  EXPECT_EQ(hr.pcrs[0].index, 7);
  ASSERT_EQ(hr.pcrs[0].known_good.size(), 1u);
  EXPECT_EQ(ToHex(hr.pcrs[0].known_good[0]), kA);
  ASSERT_TRUE(hr.ima_allowlist);
  EXPECT_EQ(hr.ima_allowlist->path, "/etc/tvd/ima.txt");
  EXPECT_EQ(ToHex(hr.ima_allowlist->sha256), kB);
  EXPECT_EQ(p->authorized_hosts, std::vector<std::string>{"CN=host-a,O=VDC"});
  ASSERT_EQ(p->vms.size(), 1u);
  EXPECT_EQ(p->vms[0].vm, "cms-server");
  ASSERT_EQ(p->vms[0].measures.size(), 2u);
  EXPECT_EQ(p->vms[0].measures[0].type, MeasureType::kKernel);
  EXPECT_EQ(ToHex(*p->vms[0].measures[0].sha256), kC);
  EXPECT_EQ(p->vms[0].measures[1].type, MeasureType::kDisk);
  EXPECT_EQ(p->vms[0].measures[1].target, "vda");
  EXPECT_EQ(p->gateways, (std::vector<GatewayRule>{{"red-gateway", "red"}}));
  EXPECT_EQ(p->disk_key_vms, std::vector<std::string>{"cms-server"});
  EXPECT_TRUE(p->IsHostAuthorized("CN=host-a,O=VDC"));
  EXPECT_FALSE(p->IsHostAuthorized("CN=host-b,O=VDC"));
  EXPECT_TRUE(p->ReleasesDiskKeyTo("cms-server"));
  EXPECT_FALSE(p->ReleasesDiskKeyTo("red-gateway"));
}

TEST(TvdPolicyParserTest, ParsesVtpmPerVmAndForEveryVm) {
  auto none = ParseTvdPolicy(kPolicy, "p.xml");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->vtpm_all_vms);
  EXPECT_FALSE(none->GrantsVtpmTo("cms-server"));

  auto one = ParseTvdPolicy(Mutate(kPolicy, R"(<disk-key vm="cms-server"/>)",
                                   R"(<vtpm vm="cms-server"/>)"),
                            "p.xml");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->vtpm_vms, std::vector<std::string>{"cms-server"});
  EXPECT_FALSE(one->vtpm_all_vms);
  EXPECT_TRUE(one->GrantsVtpmTo("cms-server"));
  EXPECT_FALSE(one->GrantsVtpmTo("red-gateway"));

  auto all = ParseTvdPolicy(
      Mutate(kPolicy, R"(<disk-key vm="cms-server"/>)", "<vtpm/>"), "p.xml");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->vtpm_all_vms);
  EXPECT_TRUE(all->vtpm_vms.empty());
  EXPECT_TRUE(all->GrantsVtpmTo("cms-server"));
  // Only VMs with known-good measurements: a name the policy does not list
  // gets nothing, whatever <vtpm/> says.
  EXPECT_FALSE(all->GrantsVtpmTo("red-gateway"));
}

TEST(TvdPolicyParserTest, OptionalPartsMayBeAbsent) {
  std::string text = kPolicy;
  for (const char* block :
       {"  <vms>\n", "    <vm name=\"cms-server\">\n", "    </vm>\n",
        "  </vms>\n", "  <gateways>\n",
        "    <gateway vm=\"red-gateway\" peer=\"red\"/>\n", "  </gateways>\n",
        "  <key-release>\n", "    <disk-key vm=\"cms-server\"/>\n",
        "  </key-release>\n"}) {
    text = Mutate(text, block, "");
  }
  text = Mutate(text,
                "      <measure type=\"kernel\" sha256=\"" + kC + "\"/>\n", "");
  text = Mutate(
      text,
      "      <measure type=\"disk\" target=\"vda\" sha256=\"" + kD + "\"/>\n",
      "");
  auto p = ParseTvdPolicy(text, "p.xml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->vms.empty());
  EXPECT_TRUE(p->gateways.empty());
  EXPECT_TRUE(p->disk_key_vms.empty());
}

TEST(TvdPolicyParserTest, ParsesQuotaLimits) {
  auto none = ParseTvdPolicy(kPolicy, "p.xml");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->per_host_quota.empty());

  auto all = ParseTvdPolicy(
      Mutate(kPolicy, "</key-release>\n",
             "</key-release>\n  <quotas>\n    <per-host domains=\"8\" "
             "vcpus=\"16\" memory-mib=\"16384\" disk-gib=\"200\"/>\n"
             "  </quotas>\n"),
      "p.xml");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->per_host_quota.domains, 8u);
  EXPECT_EQ(all->per_host_quota.vcpus, 16u);
  EXPECT_EQ(all->per_host_quota.memory_mib, 16384u);
  EXPECT_EQ(all->per_host_quota.disk_gib, 200u);

  // Each limit is optional on its own; the largest values are accepted.
  auto some = ParseTvdPolicy(
      Mutate(kPolicy, "</key-release>\n",
             "</key-release>\n  <quotas><per-host vcpus=\"65536\" "
             "disk-gib=\"1048576\"/></quotas>\n"),
      "p.xml");
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_FALSE(some->per_host_quota.domains);
  EXPECT_EQ(some->per_host_quota.vcpus, 65536u);
  EXPECT_FALSE(some->per_host_quota.memory_mib);
  EXPECT_EQ(some->per_host_quota.disk_gib, 1048576u);
  EXPECT_TRUE(some->total_quota.empty());

  // A total across hosts, alone or with a per-host quota, up to its bounds.
  auto total = ParseTvdPolicy(
      Mutate(kPolicy, "</key-release>\n",
             "</key-release>\n  <quotas><total domains=\"16777216\" "
             "vcpus=\"268435456\" memory-mib=\"1099511627776\" "
             "disk-gib=\"17179869184\"/><per-host vcpus=\"4\"/>"
             "</quotas>\n"),
      "p.xml");
  ASSERT_TRUE(total.ok()) << total.status().ToString();
  EXPECT_EQ(total->total_quota.domains, 16777216u);
  EXPECT_EQ(total->total_quota.vcpus, 268435456u);
  EXPECT_EQ(total->total_quota.memory_mib, 1099511627776u);
  EXPECT_EQ(total->total_quota.disk_gib, 17179869184u);
  EXPECT_EQ(total->per_host_quota.vcpus, 4u);
  auto only_total = ParseTvdPolicy(
      Mutate(kPolicy, "</key-release>\n",
             "</key-release>\n  <quotas><total vcpus=\"32\"/></quotas>\n"),
      "p.xml");
  ASSERT_TRUE(only_total.ok()) << only_total.status().ToString();
  EXPECT_TRUE(only_total->per_host_quota.empty());
  EXPECT_EQ(only_total->total_quota.vcpus, 32u);
}

TEST(TvdPolicyParserTest, GatewayNeedsBothSides) {
  auto blue = ParseTvdPolicy(kPolicy, "blue.xml");
  ASSERT_TRUE(blue.ok());
  std::string red_text =
      Mutate(Mutate(kPolicy, "name=\"blue\" id=\"1\"", "name=\"red\" id=\"2\""),
             "peer=\"red\"", "peer=\"blue\"");
  auto red = ParseTvdPolicy(red_text, "red.xml");
  ASSERT_TRUE(red.ok()) << red.status().message();
  EXPECT_TRUE(GatewayAllowed(*blue, *red, "red-gateway"));
  EXPECT_TRUE(GatewayAllowed(*red, *blue, "red-gateway"));
  EXPECT_FALSE(GatewayAllowed(*blue, *red, "cms-server"));
  EXPECT_FALSE(GatewayAllowed(*blue, *blue, "red-gateway"));

  // Red no longer agrees: denied in both directions.
  auto red_no = ParseTvdPolicy(
      Mutate(red_text, "<gateway vm=\"red-gateway\" peer=\"blue\"/>",
             "<gateway vm=\"other-gw\" peer=\"blue\"/>"),
      "red.xml");
  ASSERT_TRUE(red_no.ok());
  EXPECT_FALSE(GatewayAllowed(*blue, *red_no, "red-gateway"));
  EXPECT_FALSE(GatewayAllowed(*red_no, *blue, "red-gateway"));
  // A third TVD that blue never mentions.
  auto green = ParseTvdPolicy(Mutate(Mutate(kPolicy, "name=\"blue\" id=\"1\"",
                                            "name=\"green\" id=\"3\""),
                                     "peer=\"red\"", "peer=\"blue\""),
                              "green.xml");
  ASSERT_TRUE(green.ok());
  EXPECT_FALSE(GatewayAllowed(*blue, *green, "red-gateway"));
}

struct ErrorCase {
  const char* name;
  std::string from;
  std::string to;
  std::string error;
  // Names the case in test listings instead of dumping its bytes.
  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }
};

class TvdPolicyErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TvdPolicyErrorTest, ExactError) {
  const ErrorCase& c = GetParam();
  auto p = ParseTvdPolicy(Mutate(kPolicy, c.from, c.to), "p.xml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(p.status().message(), c.error);
}

const std::string kNet1 =
    R"(<network name="blue-data" kind="data" vni="1001" subnet="10.1.0.0/24"/>)";
const std::string kIpsec =
    R"(<ipsec ike="aes256gcm16-prfsha256-ecp256" esp="aes256gcm16-ecp256"/>)";
const std::string kHr =
    R"(<host-requirements allow-no-tpm="false" attestation-interval="300">)";
const std::string kPcr =
    R"(<pcr bank="sha256" index="7"><known-good value=")" + kA + R"("/></pcr>)";
const std::string kIma =
    R"(<ima-allowlist path="/etc/tvd/ima.txt" sha256=")" + kB + R"("/>)";
const std::string kKernel =
    R"(<measure type="kernel" sha256=")" + kC + R"("/>)";

// The end of <key-release> followed by a <quotas> with one <per-host>
// carrying `attrs`.
std::string Quotas(const std::string& attrs) {
  return "</key-release>\n  <quotas>\n    <per-host " + attrs +
         "/>\n  </quotas>\n";
}

INSTANTIATE_TEST_SUITE_P(
    Rules, TvdPolicyErrorTest,
    ::testing::Values(
        // Root element.
        ErrorCase{"WrongRoot", "<tvd-policy xmlns", "<policy xmlns",
                  "p.xml:1: not well-formed XML: mismatched or missing end "
                  "tag"},
        ErrorCase{"RootUnknownAttribute", R"(id="1">)", R"(id="1" x="y">)",
                  "p.xml:1: <tvd-policy>: unknown attribute 'x'"},
        ErrorCase{"RootMissingXmlns", R"(xmlns="urn:tvd:policy:1" )", "",
                  "p.xml:1: <tvd-policy>: missing required attribute 'xmlns'"},
        ErrorCase{"RootWrongXmlns", R"(xmlns="urn:tvd:policy:1")",
                  R"(xmlns="urn:tvd:policy:2")",
                  "p.xml:1: <tvd-policy>: attribute 'xmlns' must be "
                  "'urn:tvd:policy:1', got 'urn:tvd:policy:2'"},
        ErrorCase{"MissingName", R"( name="blue")", "",
                  "p.xml:1: <tvd-policy>: missing required attribute 'name'"},
        ErrorCase{"BadName", R"(name="blue")", R"(name="Blue")",
                  "p.xml:1: <tvd-policy>: attribute 'name' must be a TVD name "
                  "([a-z][a-z0-9-]{0,30}), got 'Blue'"},
        ErrorCase{"MissingId", R"( id="1")", "",
                  "p.xml:1: <tvd-policy>: missing required attribute 'id'"},
        ErrorCase{"IdZero", R"(id="1")", R"(id="0")",
                  "p.xml:1: <tvd-policy>: attribute 'id' must be an integer in "
                  "1..16383, got '0'"},
        ErrorCase{"IdTooLarge", R"(id="1")", R"(id="16384")",
                  "p.xml:1: <tvd-policy>: attribute 'id' must be an integer in "
                  "1..16383, got '16384'"},
        ErrorCase{"IdNotDecimal", R"(id="1")", R"(id="0x1")",
                  "p.xml:1: <tvd-policy>: attribute 'id' must be an integer in "
                  "1..16383, got '0x1'"},
        ErrorCase{"UnknownElement", "  <owner", "  <extra/><owner",
                  "p.xml:2: <tvd-policy>: unknown element <extra>"},
        ErrorCase{"StrayText", "  <owner", "  hello <owner",
                  "p.xml:2: <tvd-policy>: unexpected text 'hello'"},
        ErrorCase{"PrefixedElement", "  <owner", "  <tvd:owner/><owner",
                  "p.xml:2: <tvd-policy>: unknown element <tvd:owner>"},
        // Owner.
        ErrorCase{"DuplicateOwner",
                  R"(<owner subject="CN=blue-tenant,O=Blue"/>)",
                  "<owner subject=\"CN=blue-tenant,O=Blue\"/>\n  <owner "
                  "subject=\"CN=x\"/>",
                  "p.xml:3: <tvd-policy>: duplicate element <owner> (first at "
                  "line 2)"},
        ErrorCase{"MissingOwner", R"(<owner subject="CN=blue-tenant,O=Blue"/>)",
                  "",
                  "p.xml:1: <tvd-policy>: missing required element <owner>"},
        ErrorCase{"OwnerMissingSubject", R"(subject="CN=blue-tenant,O=Blue")",
                  "", "p.xml:2: <owner>: missing required attribute 'subject'"},
        ErrorCase{"OwnerBadSubject", R"(subject="CN=blue-tenant,O=Blue")",
                  R"(subject="blue tenant")",
                  "p.xml:2: <owner>: attribute 'subject' must be a certificate "
                  "subject (printable ASCII with '='), got 'blue tenant'"},
        ErrorCase{"OwnerText", R"(<owner subject="CN=blue-tenant,O=Blue"/>)",
                  R"(<owner subject="CN=blue-tenant,O=Blue">x</owner>)",
                  "p.xml:2: <owner>: unexpected text 'x'"},
        ErrorCase{"OwnerChild", R"(<owner subject="CN=blue-tenant,O=Blue"/>)",
                  R"(<owner subject="CN=blue-tenant,O=Blue"><x/></owner>)",
                  "p.xml:2: <owner>: unknown element <x>"},
        // Networks.
        ErrorCase{"MissingNetworks",
                  "  <networks>\n    " + kNet1 +
                      "\n    <network name=\"blue-mgmt\" kind=\"management\" "
                      "vni=\"1002\"/>\n  </networks>\n",
                  "",
                  "p.xml:1: <tvd-policy>: missing required element "
                  "<networks>"},
        ErrorCase{"NoNetwork",
                  kNet1 +
                      "\n    <network name=\"blue-mgmt\" kind=\"management\" "
                      "vni=\"1002\"/>",
                  "", "p.xml:3: <networks>: needs at least one <network>"},
        ErrorCase{"NetworksAttribute", "<networks>", "<networks mtu=\"9000\">",
                  "p.xml:3: <networks>: unknown attribute 'mtu'"},
        ErrorCase{"VmsAttribute", "<vms>", "<vms default=\"allow\">",
                  "p.xml:17: <vms>: unknown attribute 'default'"},
        ErrorCase{"GatewaysAttribute", "<gateways>", "<gateways x=\"1\">",
                  "p.xml:23: <gateways>: unknown attribute 'x'"},
        ErrorCase{"KeyReleaseAttribute", "<key-release>",
                  "<key-release all=\"true\">",
                  "p.xml:26: <key-release>: unknown attribute 'all'"},
        ErrorCase{"AuthorizedHostsAttribute", "<authorized-hosts>",
                  "<authorized-hosts any=\"true\">",
                  "p.xml:14: <authorized-hosts>: unknown attribute 'any'"},
        ErrorCase{"NetworksUnknownChild", kNet1, "<net/>",
                  "p.xml:4: <networks>: unknown element <net>"},
        ErrorCase{"NetworkUnknownAttribute", R"(vni="1001")",
                  R"(vni="1001" mtu="1500")",
                  "p.xml:4: <network>: unknown attribute 'mtu'"},
        ErrorCase{"NetworkMissingName", R"(name="blue-data" kind)", "kind",
                  "p.xml:4: <network>: missing required attribute 'name'"},
        ErrorCase{"NetworkBadName", R"(name="blue-data")",
                  R"(name="blue_data")",
                  "p.xml:4: <network>: attribute 'name' must be a network name "
                  "([a-z][a-z0-9-]{0,30}), got 'blue_data'"},
        ErrorCase{"NetworkMissingKind", R"(kind="data" )", "",
                  "p.xml:4: <network>: missing required attribute 'kind'"},
        ErrorCase{"NetworkBadKind", R"(kind="data")", R"(kind="storage")",
                  "p.xml:4: <network>: attribute 'kind' must be 'data' or "
                  "'management', got 'storage'"},
        ErrorCase{"NetworkMissingVni", R"(vni="1001" )", "",
                  "p.xml:4: <network>: missing required attribute 'vni'"},
        ErrorCase{"VniZero", R"(vni="1001")", R"(vni="0")",
                  "p.xml:4: <network>: attribute 'vni' must be an integer in "
                  "1..16777215, got '0'"},
        ErrorCase{"VniTooLarge", R"(vni="1001")", R"(vni="16777216")",
                  "p.xml:4: <network>: attribute 'vni' must be an integer in "
                  "1..16777215, got '16777216'"},
        ErrorCase{"VniNegative", R"(vni="1001")", R"(vni="-1")",
                  "p.xml:4: <network>: attribute 'vni' must be an integer in "
                  "1..16777215, got '-1'"},
        ErrorCase{"SubnetHostBits", R"(subnet="10.1.0.0/24")",
                  R"(subnet="10.1.0.1/24")",
                  "p.xml:4: <network>: attribute 'subnet' must be an IPv4 or "
                  "IPv6 prefix without host bits, got '10.1.0.1/24'"},
        ErrorCase{"SubnetGarbage", R"(subnet="10.1.0.0/24")",
                  R"(subnet="blue")",
                  "p.xml:4: <network>: attribute 'subnet' must be an IPv4 or "
                  "IPv6 prefix without host bits, got 'blue'"},
        ErrorCase{"DuplicateNetworkName", R"(name="blue-mgmt")",
                  R"(name="blue-data")",
                  "p.xml:5: <network>: duplicate network name 'blue-data' "
                  "(first at line 4)"},
        ErrorCase{"DuplicateVni", R"(vni="1002")", R"(vni="1001")",
                  "p.xml:5: <network>: duplicate VNI 1001 (already used by "
                  "network 'blue-data' at line 4)"},
        ErrorCase{"DuplicateNetworks", "  <transport>",
                  "  <networks><network name=\"x\" kind=\"data\" "
                  "vni=\"9\"/></networks>\n  <transport>",
                  "p.xml:7: <tvd-policy>: duplicate element <networks> (first "
                  "at line 3)"},
        // Transport.
        ErrorCase{"MissingIpsec", kIpsec, "",
                  "p.xml:7: <transport>: missing required element <ipsec>"},
        ErrorCase{"DuplicateIpsec", kIpsec, kIpsec + "\n" + kIpsec,
                  "p.xml:9: <transport>: duplicate element <ipsec> (first at "
                  "line 8)"},
        ErrorCase{"TransportUnknownChild", kIpsec, "<wireguard/>",
                  "p.xml:8: <transport>: unknown element <wireguard>"},
        ErrorCase{"TransportAttribute", "<transport>",
                  "<transport mode=\"none\">",
                  "p.xml:7: <transport>: unknown attribute 'mode'"},
        ErrorCase{"IpsecMissingIke", R"(ike="aes256gcm16-prfsha256-ecp256" )",
                  "", "p.xml:8: <ipsec>: missing required attribute 'ike'"},
        ErrorCase{"IpsecMissingEsp", R"( esp="aes256gcm16-ecp256")", "",
                  "p.xml:8: <ipsec>: missing required attribute 'esp'"},
        ErrorCase{"IpsecWeakIke", R"(ike="aes256gcm16-prfsha256-ecp256")",
                  R"(ike="aes128-sha1-modp1024")",
                  "p.xml:8: <ipsec>: attribute 'ike' is not an allowed IKE "
                  "proposal: unknown or disallowed algorithm 'sha1'"},
        ErrorCase{"IpsecIkeNoGroup", R"(ike="aes256gcm16-prfsha256-ecp256")",
                  R"(ike="aes256gcm16-prfsha256")",
                  "p.xml:8: <ipsec>: attribute 'ike' is not an allowed IKE "
                  "proposal: missing key-exchange group"},
        ErrorCase{"IpsecEspWithPrf", R"(esp="aes256gcm16-ecp256")",
                  R"(esp="aes256gcm16-prfsha256")",
                  "p.xml:8: <ipsec>: attribute 'esp' is not an allowed ESP "
                  "proposal: PRF 'prfsha256' does not belong in an ESP "
                  "proposal"},
        ErrorCase{"MissingTransport",
                  "  <transport>\n    " + kIpsec + "\n  </transport>\n", "",
                  "p.xml:1: <tvd-policy>: missing required element "
                  "<transport>"},
        // Host requirements.
        ErrorCase{"MissingHostRequirements",
                  kHr + "\n    " + kPcr + "\n    " + kIma +
                      "\n  </host-requirements>",
                  "",
                  "p.xml:1: <tvd-policy>: missing required element "
                  "<host-requirements>"},
        ErrorCase{"MissingAllowNoTpm", R"(allow-no-tpm="false" )", "",
                  "p.xml:10: <host-requirements>: missing required attribute "
                  "'allow-no-tpm'"},
        ErrorCase{"BadAllowNoTpm", R"(allow-no-tpm="false")",
                  R"(allow-no-tpm="no")",
                  "p.xml:10: <host-requirements>: attribute 'allow-no-tpm' "
                  "must be 'true' or 'false', got 'no'"},
        ErrorCase{"MissingInterval", R"( attestation-interval="300")", "",
                  "p.xml:10: <host-requirements>: missing required attribute "
                  "'attestation-interval'"},
        ErrorCase{"IntervalZero", R"(attestation-interval="300")",
                  R"(attestation-interval="0")",
                  "p.xml:10: <host-requirements>: attribute "
                  "'attestation-interval' must be an integer in 1..86400 "
                  "(seconds), got '0'"},
        ErrorCase{"IntervalTooLong", R"(attestation-interval="300")",
                  R"(attestation-interval="86401")",
                  "p.xml:10: <host-requirements>: attribute "
                  "'attestation-interval' must be an integer in 1..86400 "
                  "(seconds), got '86401'"},
        ErrorCase{
            "HostRequirementsXmlns", kHr,
            R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="300">)",
            "p.xml:10: <host-requirements>: unknown attribute 'xmlns'"},
        ErrorCase{"NothingToAttest", kPcr + "\n    " + kIma, "",
                  "p.xml:10: <host-requirements>: needs at least one <pcr>, "
                  "<ima-allowlist> or <measured-boot>"},
        ErrorCase{"HostRequirementsUnknownChild", kIma, "<tpm/>",
                  "p.xml:12: <host-requirements>: unknown element <tpm>"},
        ErrorCase{"PcrBadBank", R"(bank="sha256")", R"(bank="sha1")",
                  "p.xml:11: <pcr>: attribute 'bank' must be 'sha256', got "
                  "'sha1'"},
        ErrorCase{"PcrMissingIndex", R"( index="7")", "",
                  "p.xml:11: <pcr>: missing required attribute 'index'"},
        ErrorCase{"PcrIndexTooLarge", R"(index="7")", R"(index="24")",
                  "p.xml:11: <pcr>: attribute 'index' must be an integer in "
                  "0..23, got '24'"},
        ErrorCase{"DuplicatePcr", kPcr, kPcr + "\n    " + kPcr,
                  "p.xml:12: <pcr>: duplicate PCR index 7 (first at line 11)"},
        ErrorCase{"PcrWithoutValue", kPcr,
                  R"(<pcr bank="sha256" index="7"></pcr>)",
                  "p.xml:11: <pcr>: needs at least one <known-good>"},
        ErrorCase{"PcrUnknownChild", kPcr,
                  R"(<pcr bank="sha256" index="7"><value/></pcr>)",
                  "p.xml:11: <pcr>: unknown element <value>"},
        ErrorCase{"KnownGoodShort", R"(<known-good value=")" + kA,
                  R"(<known-good value="abc)",
                  "p.xml:11: <known-good>: attribute 'value' must be 64 hex "
                  "digits, got 'abc'"},
        ErrorCase{"KnownGoodNotHex", R"(<known-good value=")" + kA,
                  R"(<known-good value=")" + std::string(64, 'g'),
                  "p.xml:11: <known-good>: attribute 'value' must be 64 hex "
                  "digits, got '" +
                      std::string(40, 'g') + "...'"},
        ErrorCase{"KnownGoodMissingValue", R"(<known-good value=")" + kA + "\"",
                  "<known-good",
                  "p.xml:11: <known-good>: missing required attribute "
                  "'value'"},
        ErrorCase{"DuplicateKnownGood", R"(<known-good value=")" + kA + "\"/>",
                  R"(<known-good value=")" + kA + R"("/><known-good value=")" +
                      std::string(64, 'A') + "\"/>",
                  "p.xml:11: <known-good>: duplicate value for PCR 7 (first "
                  "at line 11)"},
        ErrorCase{"ImaRelativePath", R"(path="/etc/tvd/ima.txt")",
                  R"(path="ima.txt")",
                  "p.xml:12: <ima-allowlist>: attribute 'path' must be an "
                  "absolute path, got 'ima.txt'"},
        ErrorCase{"ImaBadDigest", R"(sha256=")" + kB, R"(sha256="xyz)",
                  "p.xml:12: <ima-allowlist>: attribute 'sha256' must be 64 "
                  "hex digits, got 'xyz'"},
        ErrorCase{"ImaMissingDigest", R"( sha256=")" + kB + "\"", "",
                  "p.xml:12: <ima-allowlist>: missing required attribute "
                  "'sha256'"},
        ErrorCase{"DuplicateIma", kIma, kIma + "\n    " + kIma,
                  "p.xml:13: <host-requirements>: duplicate element "
                  "<ima-allowlist> (first at line 12)"},
        // Authorized hosts.
        ErrorCase{"MissingAuthorizedHosts",
                  "  <authorized-hosts>\n    <host "
                  "subject=\"CN=host-a,O=VDC\"/>\n  </authorized-hosts>\n",
                  "",
                  "p.xml:1: <tvd-policy>: missing required element "
                  "<authorized-hosts>"},
        ErrorCase{"HostBadSubject", R"(subject="CN=host-a,O=VDC")",
                  R"(subject="host-a")",
                  "p.xml:15: <host>: attribute 'subject' must be a "
                  "certificate subject (printable ASCII with '='), got "
                  "'host-a'"},
        ErrorCase{"DuplicateHost", R"(<host subject="CN=host-a,O=VDC"/>)",
                  "<host subject=\"CN=host-a,O=VDC\"/>\n    <host "
                  "subject=\"CN=host-a,O=VDC\"/>",
                  "p.xml:16: <host>: duplicate host subject 'CN=host-a,O=VDC' "
                  "(first at line 15)"},
        ErrorCase{"AuthorizedHostsUnknownChild",
                  R"(<host subject="CN=host-a,O=VDC"/>)", "<any/>",
                  "p.xml:15: <authorized-hosts>: unknown element <any>"},
        // VM known-good measurements.
        ErrorCase{"VmBadName", R"(<vm name="cms-server">)",
                  R"(<vm name="cms server">)",
                  "p.xml:18: <vm>: attribute 'name' must be a VM name "
                  "([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), got 'cms server'"},
        ErrorCase{
            "DuplicateVm", "    </vm>\n",
            "    </vm>\n    <vm name=\"cms-server\">" + kKernel + "</vm>\n",
            "p.xml:22: <vm>: duplicate VM 'cms-server' (first at line "
            "18)"},
        ErrorCase{"VmWithoutMeasure", "    </vm>\n",
                  "    </vm>\n    <vm name=\"other\"></vm>\n",
                  "p.xml:22: <vm>: needs at least one <measure>"},
        ErrorCase{"VmUnknownChild", kKernel, "<hash/>",
                  "p.xml:19: <vm>: unknown element <hash>"},
        ErrorCase{"MeasureBadType", R"(type="kernel")", R"(type="bios")",
                  "p.xml:19: <measure>: attribute 'type' must be one of "
                  "config, kernel, initrd, disk, got 'bios'"},
        ErrorCase{"MeasureMissingType", R"(type="kernel" )", "",
                  "p.xml:19: <measure>: missing required attribute 'type'"},
        ErrorCase{"DiskWithoutTarget", R"(target="vda" )", "",
                  "p.xml:20: <measure>: missing required attribute 'target' "
                  "(required for type 'disk')"},
        ErrorCase{"TargetOnKernel", R"(<measure type="kernel")",
                  R"(<measure type="kernel" target="vda")",
                  "p.xml:19: <measure>: attribute 'target' is only allowed "
                  "for type 'disk'"},
        ErrorCase{"DiskBadTarget", R"(target="vda")", R"(target="/dev/vda")",
                  "p.xml:20: <measure>: attribute 'target' must be a disk "
                  "target like 'vda', got '/dev/vda'"},
        ErrorCase{"MeasureMissingDigest",
                  R"(<measure type="kernel" sha256=")" + kC + "\"",
                  R"(<measure type="kernel")",
                  "p.xml:19: <measure>: missing required attribute 'sha256'"},
        ErrorCase{"MeasureBadDigest", R"(sha256=")" + kC, R"(sha256="...)",
                  "p.xml:19: <measure>: attribute 'sha256' must be 64 hex "
                  "digits, got '...'"},
        ErrorCase{"DuplicateMeasure", kKernel, kKernel + "\n      " + kKernel,
                  "p.xml:20: <measure>: duplicate measure 'kernel' (first at "
                  "line 19)"},
        ErrorCase{
            "DuplicateDiskMeasure", R"(target="vda" sha256=")" + kD + "\"/>",
            R"(target="vda" sha256=")" + kD + "\"/>\n      " +
                R"(<measure type="disk" target="vda" sha256=")" + kD + "\"/>",
            "p.xml:21: <measure>: duplicate measure 'disk' target 'vda' "
            "(first at line 20)"},
        ErrorCase{"MeasureUnknownAttribute", R"(<measure type="kernel")",
                  R"(<measure type="kernel" path="/boot/vmlinuz")",
                  "p.xml:19: <measure>: unknown attribute 'path'"},
        // Gateways.
        ErrorCase{"GatewayToItself", R"(peer="red")", R"(peer="blue")",
                  "p.xml:24: <gateway>: a gateway must lead to another TVD, "
                  "not to 'blue' itself"},
        ErrorCase{"GatewayBadPeer", R"(peer="red")", R"(peer="Red TVD")",
                  "p.xml:24: <gateway>: attribute 'peer' must be a TVD name "
                  "([a-z][a-z0-9-]{0,30}), got 'Red TVD'"},
        ErrorCase{"GatewayMissingVm", R"(vm="red-gateway" )", "",
                  "p.xml:24: <gateway>: missing required attribute 'vm'"},
        ErrorCase{"DuplicateGateway",
                  R"(<gateway vm="red-gateway" peer="red"/>)",
                  "<gateway vm=\"red-gateway\" peer=\"red\"/>\n    <gateway "
                  "peer=\"red\" vm=\"red-gateway\"/>",
                  "p.xml:25: <gateway>: duplicate gateway 'red-gateway' to "
                  "'red' (first at line 24)"},
        // Key release.
        ErrorCase{"DiskKeyForUnknownVm", R"(<disk-key vm="cms-server"/>)",
                  R"(<disk-key vm="other"/>)",
                  "p.xml:27: <disk-key>: VM 'other' has no known-good "
                  "measurements in <vms>"},
        ErrorCase{"DuplicateDiskKey", R"(<disk-key vm="cms-server"/>)",
                  "<disk-key vm=\"cms-server\"/>\n    <disk-key "
                  "vm=\"cms-server\"/>",
                  "p.xml:28: <disk-key>: duplicate disk key rule for VM "
                  "'cms-server' (first at line 27)"},
        ErrorCase{"VtpmForUnknownVm", R"(<disk-key vm="cms-server"/>)",
                  R"(<vtpm vm="other"/>)",
                  "p.xml:27: <vtpm>: VM 'other' has no known-good "
                  "measurements in <vms>"},
        ErrorCase{"DuplicateVtpm", R"(<disk-key vm="cms-server"/>)",
                  "<vtpm vm=\"cms-server\"/>\n    <vtpm vm=\"cms-server\"/>",
                  "p.xml:28: <vtpm>: duplicate vTPM rule for VM "
                  "'cms-server' (first at line 27)"},
        ErrorCase{"DuplicateVtpmForEveryVm", R"(<disk-key vm="cms-server"/>)",
                  "<vtpm/>\n    <vtpm/>",
                  "p.xml:28: <vtpm>: duplicate <vtpm/> for every VM (first "
                  "at line 27)"},
        ErrorCase{"VtpmUnknownAttribute", R"(<disk-key vm="cms-server"/>)",
                  R"(<vtpm vm="cms-server" model="tpm-tis"/>)",
                  "p.xml:27: <vtpm>: unknown attribute 'model'"},
        ErrorCase{"VtpmNotEmpty", R"(<disk-key vm="cms-server"/>)",
                  R"(<vtpm vm="cms-server"><ek/></vtpm>)",
                  "p.xml:27: <vtpm>: unknown element <ek>"},
        ErrorCase{"KeyReleaseUnknownChild", R"(<disk-key vm="cms-server"/>)",
                  R"(<tpm-key vm="cms-server"/>)",
                  "p.xml:27: <key-release>: unknown element <tpm-key>"},
        // Quotas (inserted at line 29, <per-host> at line 30).
        ErrorCase{"QuotaZero", "</key-release>\n", Quotas(R"(domains="0")"),
                  "p.xml:30: <per-host>: attribute 'domains' must be an "
                  "integer in 1..4096, got '0'"},
        ErrorCase{"QuotaTooLarge", "</key-release>\n",
                  Quotas(R"(vcpus="65537")"),
                  "p.xml:30: <per-host>: attribute 'vcpus' must be an "
                  "integer in 1..65536, got '65537'"},
        ErrorCase{"QuotaWithUnit", "</key-release>\n",
                  Quotas(R"(memory-mib="16G")"),
                  "p.xml:30: <per-host>: attribute 'memory-mib' must be an "
                  "integer in 1..67108864, got '16G'"},
        ErrorCase{"QuotaNegative", "</key-release>\n",
                  Quotas(R"(disk-gib="-1")"),
                  "p.xml:30: <per-host>: attribute 'disk-gib' must be an "
                  "integer in 1..1048576, got '-1'"},
        ErrorCase{"QuotaUnknownAttribute", "</key-release>\n",
                  Quotas(R"(domains="8" cpu-shares="5")"),
                  "p.xml:30: <per-host>: unknown attribute 'cpu-shares'"},
        ErrorCase{"QuotaWithoutLimits", "</key-release>\n", Quotas(""),
                  "p.xml:30: <per-host>: needs at least one of the "
                  "attributes 'domains', 'vcpus', 'memory-mib', 'disk-gib'"},
        ErrorCase{
            "QuotaTotalTooLarge", "</key-release>\n",
            "</key-release>\n  <quotas>\n    <total domains=\"16777217\"/>\n"
            "  </quotas>\n",
            "p.xml:30: <total>: attribute 'domains' must be an "
            "integer in 1..16777216, got '16777217'"},
        ErrorCase{"QuotaTotalWithoutLimits", "</key-release>\n",
                  "</key-release>\n  <quotas>\n    <total/>\n  </quotas>\n",
                  "p.xml:30: <total>: needs at least one of the "
                  "attributes 'domains', 'vcpus', 'memory-mib', 'disk-gib'"},
        ErrorCase{"QuotaTotalTwice", "</key-release>\n",
                  "</key-release>\n  <quotas>\n    <total vcpus=\"8\"/>\n"
                  "    <total vcpus=\"9\"/>\n  </quotas>\n",
                  "p.xml:31: <quotas>: duplicate element <total> (first "
                  "at line 30)"},
        ErrorCase{
            "QuotaUnknownScope", "</key-release>\n",
            "</key-release>\n  <quotas>\n    <per-tenant domains=\"8\"/>\n"
            "  </quotas>\n",
            "p.xml:30: <quotas>: unknown element <per-tenant>"},
        ErrorCase{"QuotasWithoutLimits", "</key-release>\n",
                  "</key-release>\n  <quotas/>\n",
                  "p.xml:29: <quotas>: needs a <per-host> or a <total> "
                  "element"},
        ErrorCase{"QuotaPerHostTwice", "</key-release>\n",
                  "</key-release>\n  <quotas>\n    <per-host vcpus=\"1\"/>\n"
                  "    <per-host vcpus=\"2\"/>\n  </quotas>\n",
                  "p.xml:31: <quotas>: duplicate element <per-host> (first "
                  "at line 30)"},
        ErrorCase{"QuotasTwice", "</key-release>\n",
                  Quotas(R"(vcpus="1")") + "  <quotas/>\n",
                  "p.xml:32: <tvd-policy>: duplicate element <quotas> (first "
                  "at line 29)"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return std::string(info.param.name);
    });

TEST(TvdPolicyParserTest, WrongRootElement) {
  auto p = ParseTvdPolicy("<domain type='kvm'/>", "p.xml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "p.xml:1: root element is <domain>, expected <tvd-policy>");
}

TEST(TvdPolicyParserTest, LoadsFromFileWithPathInErrors) {
  auto p = LoadTvdPolicyFile("/nonexistent/blue.xml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "/nonexistent/blue.xml: No such file or directory");
}

}  // namespace
}  // namespace tvd::policy
