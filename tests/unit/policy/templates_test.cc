// The shipped policy-templates/ directory: every file validates, and the
// figure-8 scenario is consistent across files.
#include <gtest/gtest.h>

#include <filesystem>

#include "tvd/policy/host_requirements_parser.h"
#include "tvd/policy/policy_file.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/vm_config_parser.h"

namespace tvd::policy {
namespace {

const std::string kDir = std::string(TVD_SOURCE_DIR) + "/policy-templates";

TEST(TemplatesTest, EveryTemplateValidates) {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(kDir)) {
    if (e.path().extension() != ".xml") continue;
    ++count;
    auto p = LoadAnyPolicyFile(e.path(), VmConfigMode::kTemplateAllowed);
    EXPECT_TRUE(p.ok()) << p.status().message();
  }
  EXPECT_GE(count, 7);
}

TEST(TemplatesTest, ScenarioIsConsistent) {
  auto blue = LoadTvdPolicyFile(kDir + "/blue.xml");
  auto red = LoadTvdPolicyFile(kDir + "/red.xml");
  auto tcb = LoadHostRequirementsFile(kDir + "/host-tcb.xml");
  ASSERT_TRUE(blue.ok() && red.ok() && tcb.ok());
  EXPECT_NE(blue->id, red->id);
  // Each TVD has a data and a management network; VNIs unique across TVDs.
  std::set<std::uint32_t> vnis;
  for (const TvdPolicy* p : {&*blue, &*red}) {
    int data = 0, mgmt = 0;
    for (const Network& n : p->networks) {
      (n.kind == NetworkKind::kData ? data : mgmt)++;
      EXPECT_TRUE(vnis.insert(n.vni).second) << n.name;
    }
    EXPECT_EQ(data, 1);
    EXPECT_EQ(mgmt, 1);
    // The policies include the host TCB template by copy.
    EXPECT_EQ(p->host_requirements, *tcb) << p->name;
  }
  // The gateway is allowed by both sides, and nothing else is.
  EXPECT_TRUE(GatewayAllowed(*red, *blue, "red-gateway"));
  EXPECT_FALSE(GatewayAllowed(*red, *blue, "client"));
  EXPECT_FALSE(GatewayAllowed(*red, *blue, "cms-server"));

  // Every VM template belongs to a TVD, lists a known-good entry there, and
  // binds its vnets to networks of its TVD, or of a peer only where the
  // gateway rule allows it.
  const std::map<std::string, const TvdPolicy*> tvds = {{"blue", &*blue},
                                                        {"red", &*red}};
  for (const char* f : {"vm-management.xml", "vm-cms-server.xml",
                        "vm-client.xml", "vm-red-gateway.xml"}) {
    auto vm = LoadVmConfigFile(kDir + "/" + f, VmConfigMode::kTemplateAllowed);
    ASSERT_TRUE(vm.ok()) << vm.status().message();
    EXPECT_TRUE(vm->IsTemplate()) << f;
    ASSERT_TRUE(tvds.count(vm->tvd.owner)) << f;
    const TvdPolicy& owner = *tvds.at(vm->tvd.owner);
    EXPECT_NE(owner.FindVm(vm->name), nullptr) << f;
    for (const VnetBinding& v : vm->tvd.vnets) {
      ASSERT_TRUE(v.network) << f;
      if (owner.FindNetwork(*v.network) != nullptr) continue;
      bool via_gateway = false;
      for (const auto& [name, other] : tvds) {
        if (other->FindNetwork(*v.network) != nullptr) {
          via_gateway = GatewayAllowed(owner, *other, vm->name);
        }
      }
      EXPECT_TRUE(via_gateway) << f << " " << *v.network;
    }
  }
}

}  // namespace
}  // namespace tvd::policy
