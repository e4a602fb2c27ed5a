// The usage socket's handler forwards exactly one kind of request, for its
// own TVD, and hands back the master's answer unchanged.
#include "tvd/proxy/usage_claims.h"

#include <gtest/gtest.h>

#include "tvd/testing/proxy_fakes.h"
#include "tvd/testing/proxy_test_util.h"

namespace tvd::proxy {
namespace {

using testing::FakeMaster;
using testing::MakePolicy;

host::ControlRequest Claim(const std::string& tvd) {
  host::ControlRequest r;
  r.op = host::ControlOp::kUsage;
  r.tvd = tvd;
  r.held = {1, 2, 2048, 1 << 20};
  r.adds = {1, 0, 0, 4096};
  return r;
}

TEST(UsageClaimsTest, ClaimGoesToTheMasterAsItCame) {
  FakeMaster master(MakePolicy("blue", 1, {}));
  auto r = HandleUsageClaim(master, "blue", Claim("blue"));
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.result.is_object());
  ASSERT_EQ(master.usage_claims.size(), 1u);
  EXPECT_EQ(
      master.usage_claims[0],
      (protocol::UsageClaim{"blue", {1, 2, 2048, 1 << 20}, {1, 0, 0, 4096}}));
}

TEST(UsageClaimsTest, MastersRefusalIsPassedOnUnchanged) {
  FakeMaster master(MakePolicy("blue", 1, {}));
  master.usage_error = ResourceExhausted(
      "quota of TVD blue exceeded: vcpus in total 8, in use 8, this domain "
      "asks for 1");
  auto r = HandleUsageClaim(master, "blue", Claim("blue"));
  EXPECT_EQ(r.status, master.usage_error);
}

TEST(UsageClaimsTest, OtherTvdsAndOtherOpsAreRefusedUnasked) {
  FakeMaster master(MakePolicy("blue", 1, {}));
  auto other = HandleUsageClaim(master, "blue", Claim("red"));
  EXPECT_EQ(other.status,
            InvalidArgument("this proxy serves TVD 'blue', not 'red'"));
  host::ControlRequest leave;
  leave.op = host::ControlOp::kLeave;
  leave.tvd = "blue";
  auto op = HandleUsageClaim(master, "blue", leave);
  EXPECT_EQ(op.status,
            InvalidArgument("op 'leave' is not served on the usage socket"));
  EXPECT_TRUE(master.usage_claims.empty());
}

}  // namespace
}  // namespace tvd::proxy
