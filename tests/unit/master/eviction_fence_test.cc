// The deadline duty's evictions through the master's core: fenced, and a
// refusal for want of the duty lock leaves the registry as the store holds
// it (the eviction was made in memory only).
#include <gtest/gtest.h>

#include "fakes.h"
#include "master_core.h"
#include "tvd/testing/test_policy.h"

namespace tvd::master {
namespace {

using testing::FakeClock;
using testing::FakeStore;

struct View {
  std::set<std::string> members;
  std::uint64_t epoch = 0;
  std::string token;
};

View RegistryView(MasterCore& core, const std::string& tvd) {
  MutexLock lock(core.mutex);
  const TvdState* t = core.registry.Find(tvd);
  if (t == nullptr) return {};
  return {t->members, t->epoch, t->token};
}

TEST(MasterEvictionFenceTest, AStaleHolderEvictsNobody) {
  auto owned = std::make_unique<FakeStore>();
  FakeStore& store = *owned;
  TvdRow row{"blue", Policy("blue", 1, {"h1", "h2"}, {Sha256Digest{}}, 2),
             "",     1,
             "t1",   {}};
  ASSERT_TRUE(store.PutTvd(row).ok());
  ASSERT_TRUE(store.AddMember("blue", "h1").ok());
  ASSERT_TRUE(store.AddMember("blue", "h2").ok());
  MasterOptions options;
  options.kek = SecureBytes::Random(32);
  MasterCore core(std::move(options), std::move(owned),
                  std::make_shared<FakeClock>());
  ASSERT_TRUE(core.ReloadFromStore().ok());
  View before = RegistryView(core, "blue");
  EXPECT_EQ(before.members, (std::set<std::string>{"h1", "h2"}));
  EXPECT_EQ(before.epoch, 1u);
  EXPECT_EQ(before.token, "t1");

  // The store refuses the fenced transition (this master lost the lock):
  // the refusal comes back, the duty does not decide again, and the
  // registry is the stored one again (h1 a member, epoch 1).
  Status refusal = PermissionDenied(
      "state store: Transition blue epoch 2 -h1: OVSDB lock "
      "'tvd_master_duties' is not held by this replica; nothing written");
  store.FailNext("Transition", refusal);
  EXPECT_EQ(core.EvictNow("h1", "eviction deadline: no good attestation"),
            refusal);
  EXPECT_EQ(store.fenced_transitions(), 1);
  View after = RegistryView(core, "blue");
  EXPECT_EQ(after.members, (std::set<std::string>{"h1", "h2"}));
  EXPECT_EQ(after.epoch, 1u);
  EXPECT_EQ(after.token, "t1");
  EXPECT_EQ(*store.Members("blue"), (std::vector<std::string>{"h1", "h2"}));

  // The journal goes on: the holder's eviction (accepted) is fenced too.
  EXPECT_TRUE(
      core.EvictNow("h1", "eviction deadline: no good attestation").ok());
  EXPECT_EQ(store.fenced_transitions(), 2);
  EXPECT_EQ(RegistryView(core, "blue").members, (std::set<std::string>{"h2"}));
  EXPECT_EQ(RegistryView(core, "blue").epoch, 2u);
  EXPECT_EQ(*store.Members("blue"), (std::vector<std::string>{"h2"}));
}

}  // namespace
}  // namespace tvd::master
