// Static admission of a VM configuration against its TVD's policy and the
// gateway rules of other TVDs.
#include "tvd/policy/vm_policy_check.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/vm_config_parser.h"

namespace tvd::policy {
namespace {

using testing::kA;
using testing::kB;
using testing::kC;
using testing::Mutate;

std::string PolicyText(const std::string& name, const std::string& id,
                       const std::string& vm, const std::string& peer,
                       const std::string& extra) {
  return R"(<tvd-policy xmlns="urn:tvd:policy:1" name=")" + name + R"(" id=")" +
         id + R"(">
  <owner subject="CN=)" +
         name + R"("/>
  <networks>
    <network name=")" +
         name + R"(-data" kind="data" vni=")" + id + R"(01"/>
  </networks>
  <transport><ipsec ike="aes256gcm16-prfsha256-ecp256" esp="aes256gcm16"/></transport>
  <host-requirements allow-no-tpm="true" attestation-interval="60">
    <pcr bank="sha256" index="7"><known-good value=")" +
         kA + R"("/></pcr>
  </host-requirements>
  <authorized-hosts/>
  <vms>
    <vm name=")" +
         vm + R"(">
      <measure type="kernel" sha256=")" +
         kA + R"("/>
      <measure type="disk" target="vda" sha256=")" +
         kB + R"("/>
    </vm>
  </vms>
  <gateways><gateway vm="gw" peer=")" +
         peer + R"("/></gateways>
  )" + extra +
         R"(
</tvd-policy>
)";
}

std::string VmText(const std::string& name, const std::string& owner,
                   const std::string& network) {
  return R"(<domain type="qemu">
  <name>)" +
         name + R"(</name>
  <os><kernel>/k</kernel></os>
  <devices>
    <disk type="file"><source file="/d"/><target dev="vda"/></disk>
    <disk type="file"><source file="/e"/><target dev="vdb"/></disk>
    <interface type="ethernet"><target dev="nic0"/></interface>
  </devices>
  <metadata>
    <tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner=")" +
         owner + R"(">
      <tvd:measure type="kernel" sha256=")" +
         kA + R"("/>
      <tvd:measure type="disk" target="vda" sha256=")" +
         kB + R"("/>
      <tvd:vnet target="nic0" network=")" +
         network + R"("/>
    </tvd:tvd>
  </metadata>
</domain>
)";
}

TvdPolicy Policy(const std::string& text) {
  auto p = ParseTvdPolicy(text, "p.xml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : TvdPolicy{};
}

VmConfig Vm(const std::string& text, VmConfigMode mode = VmConfigMode::kFinal) {
  auto vm = ParseVmConfig(text, "vm.xml", mode);
  EXPECT_TRUE(vm.ok()) << vm.status().message();
  return vm.ok() ? *vm : VmConfig{};
}

std::string Check(const VmConfig& vm, const TvdPolicy& owner,
                  const std::vector<TvdPolicy>& others = {}) {
  Status s = CheckVmAgainstPolicies(vm, owner, others);
  if (s.ok()) return "OK";
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  return s.message();
}

const std::string kKeyForCms =
    R"(<key-release><disk-key vm="cms"/></key-release>)";

TEST(VmPolicyCheckTest, AllowsAMatchingVm) {
  const TvdPolicy blue = Policy(PolicyText("blue", "1", "cms", "red", ""));
  EXPECT_EQ(Check(Vm(VmText("cms", "blue", "blue-data")), blue), "OK");
}

TEST(VmPolicyCheckTest, RefusesTemplatesAndForeignVms) {
  const TvdPolicy blue = Policy(PolicyText("blue", "1", "cms", "red", ""));
  const std::string tmpl =
      Mutate(VmText("cms", "blue", "blue-data"), R"( network="blue-data")", "");
  EXPECT_EQ(Check(Vm(tmpl, VmConfigMode::kTemplateAllowed), blue),
            "VM 'cms' is a template; derive it first");
  EXPECT_EQ(Check(Vm(VmText("cms", "red", "blue-data")), blue),
            "VM 'cms' belongs to TVD 'red', not to TVD 'blue'");
  EXPECT_EQ(Check(Vm(VmText("other", "blue", "blue-data")), blue),
            "VM 'other' has no known-good measurements in TVD 'blue''s "
            "policy");
}

TEST(VmPolicyCheckTest, MeasuresMustMatchExactly) {
  const TvdPolicy blue = Policy(PolicyText("blue", "1", "cms", "red", ""));
  const std::string vm = VmText("cms", "blue", "blue-data");
  EXPECT_EQ(Check(Vm(Mutate(vm, R"(<tvd:measure type="kernel" sha256=")" + kA,
                            R"(<tvd:measure type="kernel" sha256=")" + kB)),
                  blue),
            "VM 'cms': measure 'kernel' differs from TVD 'blue''s known-good "
            "value");
  EXPECT_EQ(
      Check(Vm(Mutate(vm,
                      R"(<tvd:measure type="disk" target="vda" sha256=")" + kB +
                          R"("/>)",
                      "")),
            blue),
      "VM 'cms': measure 'disk' target 'vda' required by TVD 'blue''s policy "
      "is not declared");
  EXPECT_EQ(
      Check(Vm(Mutate(vm, "<tvd:vnet ",
                      R"(<tvd:measure type="disk" target="vdb" sha256=")" + kB +
                          R"("/><tvd:vnet )")),
            blue),
      "VM 'cms': measure 'disk' target 'vdb' has no known-good value in TVD "
      "'blue''s policy");
}

TEST(VmPolicyCheckTest, NetworksOfOtherTvdsOnlyThroughAgreedGateways) {
  const TvdPolicy blue = Policy(PolicyText("blue", "1", "cms", "red", ""));
  const TvdPolicy red = Policy(PolicyText("red", "2", "gw", "blue", ""));
  const TvdPolicy red_disagrees =
      Policy(PolicyText("red", "2", "gw", "green", ""));
  // A normal VM may not reach another TVD's network.
  EXPECT_EQ(Check(Vm(VmText("cms", "blue", "red-data")), blue, {red}),
            "VM 'cms': vnet 'nic0' is bound to network 'red-data', which is "
            "neither TVD 'blue''s nor a TVD's that both policies let this VM "
            "reach as a gateway");
  // The gateway VM of red may reach blue-data when both agree...
  const VmConfig gw = Vm(VmText("gw", "red", "blue-data"));
  EXPECT_EQ(Check(gw, red, {blue}), "OK");
  // ...and not when blue is not among the policies consulted, or red's own
  // policy names another peer.
  EXPECT_NE(Check(gw, red, {}), "OK");
  EXPECT_NE(Check(gw, red_disagrees, {blue}), "OK");
  // Unknown networks are refused.
  EXPECT_NE(Check(Vm(VmText("cms", "blue", "nowhere")), blue, {red}), "OK");
}

TEST(VmPolicyCheckTest, EncryptedDisksNeedAKeyReleaseRule) {
  const std::string vm =
      Mutate(VmText("cms", "blue", "blue-data"), "<tvd:vnet ",
             R"(<tvd:encryption type="disk" target="vdb"/><tvd:vnet )");
  EXPECT_EQ(Check(Vm(vm), Policy(PolicyText("blue", "1", "cms", "red", ""))),
            "VM 'cms': disk 'vdb' is encrypted but TVD 'blue' releases no "
            "disk key to this VM");
  EXPECT_EQ(
      Check(Vm(vm), Policy(PolicyText("blue", "1", "cms", "red", kKeyForCms))),
      "OK");
}

TEST(VmPolicyCheckTest, AVtpmNeedsThePolicyToGiveOne) {
  const std::string vm = Mutate(VmText("cms", "blue", "blue-data"),
                                "<tvd:vnet ", "<tvd:vtpm/><tvd:vnet ");
  EXPECT_EQ(Check(Vm(vm), Policy(PolicyText("blue", "1", "cms", "red", ""))),
            "VM 'cms': asks for a vTPM but TVD 'blue' gives this VM none");
  EXPECT_EQ(
      Check(Vm(vm), Policy(PolicyText(
                        "blue", "1", "cms", "red",
                        R"(<key-release><vtpm vm="cms"/></key-release>)"))),
      "OK");
  EXPECT_EQ(
      Check(Vm(vm), Policy(PolicyText("blue", "1", "cms", "red",
                                      "<key-release><vtpm/></key-release>"))),
      "OK");
}

}  // namespace
}  // namespace tvd::policy
