// python3-libvirt as tenants through the relay and as the admin directly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "relay_env.h"

namespace tvd::libvirt_filter::testing {
namespace {

using nlohmann::json;

class RelayPythonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = RelayEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = env->release();
    for (const auto& [name, owner, uuid] :
         {std::tuple{"blue-vm1", "blue",
                     "b1000000-0000-4000-8000-000000000001"},
          std::tuple{"blue-vm2", "blue",
                     "b1000000-0000-4000-8000-000000000002"},
          std::tuple{"red-vm1", "red",
                     "2ed00000-0000-4000-8000-000000000001"}}) {
      std::string file = env_->WriteFile(std::string(name) + ".xml",
                                         DomainXml(name, owner, uuid));
      ASSERT_EQ(env_->Virsh(env_->AdminUri(), {"define", file}).exit_status, 0);
    }
    ASSERT_EQ(env_->Virsh(env_->AdminUri(), {"start", "red-vm1"}).exit_status,
              0);
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(env_, nullptr); }

  static json Python(const std::vector<std::string>& args) {
    ProcessOptions o;
    o.argv = {"/usr/bin/python3",
              std::string(TVD_SOURCE_DIR) +
                  "/tests/integration/libvirt_filter/tenant_view.py"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    StatusOr<CommandResult> r = RunCommand(o, std::chrono::seconds(30));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return json();
    EXPECT_EQ(r->exit_status, 0) << r->err;
    json j = json::parse(r->out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r->out << r->err;
    return j;
  }

  static RelayEnv* env_;
};

RelayEnv* RelayPythonTest::env_ = nullptr;

TEST_F(RelayPythonTest, BlueSeesOnlyBlue) {
  json v = Python({"view", env_->TenantUri("blue")});
  EXPECT_EQ(v["all"], json({"blue-vm1", "blue-vm2"}));
  EXPECT_EQ(v["num_active"], 0);
  EXPECT_EQ(v["num_inactive"], 2);
  EXPECT_EQ(v["active_ids"], json::array());
  EXPECT_EQ(v["inactive_names"], json({"blue-vm1", "blue-vm2"}));
  EXPECT_EQ(v["stats"], json({"blue-vm1", "blue-vm2"}));
  EXPECT_EQ(v["networks"], 0);
  EXPECT_EQ(v["pools"], 0);
  EXPECT_EQ(v["lookup_blue-vm1"], nullptr);
  EXPECT_EQ(v["uuid_b1000000-0000-4000-8000-000000000001"], nullptr);
}

TEST_F(RelayPythonTest, RedSeesOnlyRed) {
  json v = Python({"view", env_->TenantUri("red")});
  EXPECT_EQ(v["all"], json({"red-vm1"}));
  EXPECT_EQ(v["num_active"], 1);
  EXPECT_EQ(v["num_inactive"], 0);
  EXPECT_EQ(v["active_ids"].size(), 1u);
  EXPECT_EQ(v["inactive_names"], json::array());
  EXPECT_EQ(v["stats"], json({"red-vm1"}));
}

TEST_F(RelayPythonTest, AdminSeesEverything) {
  json v = Python({"view", env_->AdminUri()});
  EXPECT_EQ(v["all"], json({"blue-vm1", "blue-vm2", "red-vm1", "test"}));
  EXPECT_EQ(v["num_active"], 2);
  EXPECT_EQ(v["num_inactive"], 2);
}

// The error for another tenant's domain is libvirtd's own error for a
// missing domain: same code, same error domain, same text.
TEST_F(RelayPythonTest, ForeignLookupsEqualMissingLookups) {
  json v = Python({"view", env_->TenantUri("blue")});
  ASSERT_TRUE(v["lookup_missing_name"].is_array());
  EXPECT_EQ(v["lookup_missing_name"][0], 42);  // VIR_ERR_NO_DOMAIN
  EXPECT_EQ(v["lookup_red-vm1"], v["lookup_missing_name"]);
  EXPECT_EQ(v["lookup_test"], v["lookup_missing_name"]);
  EXPECT_EQ(v["uuid_2ed00000-0000-4000-8000-000000000001"],
            v["lookup_missing_uuid"]);
  json admin = Python({"view", env_->AdminUri()});
  EXPECT_EQ(admin["lookup_missing_name"], v["lookup_missing_name"]);
  EXPECT_EQ(admin["lookup_missing_uuid"], v["lookup_missing_uuid"]);
  EXPECT_EQ(admin["lookup_missing_id"], v["lookup_missing_id"]);
}

// Defining over another tenant's (or the admin's) domain name answers like
// defining an unused name outside the namespace: same code, same error
// domain, same text but for the name; nothing is stored.
TEST_F(RelayPythonTest, DefineOverForeignNamesEqualsUnusedNames) {
  json v = Python({"define", env_->TenantUri("blue"), "red-vm1", "test",
                   "red-unused", "unused"});
  auto rule = [](const std::string& name) {
    return "operation forbidden: domain name '" + name +
           "': names of TVD blue's domains are 'blue-' followed by 1 to 64 "
           "letters, digits, '_', '.' or '-'";
  };
  for (const char* name : {"red-vm1", "test", "red-unused", "unused"}) {
    EXPECT_EQ(v[name], json::array({29, 7, rule(name)})) << name;
  }
  json admin = Python({"view", env_->AdminUri()});
  EXPECT_EQ(admin["all"], json({"blue-vm1", "blue-vm2", "red-vm1", "test"}));
}

TEST_F(RelayPythonTest, EventsReachEveryoneWithoutRelay) {
  // The test driver's events through libvirtd (the baseline for the next
  // test): the admin connection sees every domain's events.
  json got =
      Python({"events", env_->AdminUri(), env_->AdminUri(), env_->AdminUri()});
  EXPECT_EQ(got["blue"].size(), 6u) << got.dump();
}

TEST_F(RelayPythonTest, EventsReachOnlyTheOwner) {
  json got = Python({"events", env_->TenantUri("blue"), env_->TenantUri("red"),
                     env_->AdminUri()});
  // started (2) and stopped (5) of blue-vm1; suspended (3) and resumed (4)
  // of red-vm1; nothing of "test".
  EXPECT_EQ(got["blue"], json::array({json::array({"blue-vm1", 2}),
                                      json::array({"blue-vm1", 5})}));
  EXPECT_EQ(got["blue-legacy"], json::array({json::array({"blue-vm1", 2}),
                                             json::array({"blue-vm1", 5})}));
  EXPECT_EQ(got["red"], json::array({json::array({"red-vm1", 3}),
                                     json::array({"red-vm1", 4})}));
  EXPECT_EQ(got["red-legacy"], json::array({json::array({"red-vm1", 3}),
                                            json::array({"red-vm1", 4})}));
}

}  // namespace
}  // namespace tvd::libvirt_filter::testing
