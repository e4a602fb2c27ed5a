#include "tvd/protocol/member_list.h"

#include <gtest/gtest.h>

namespace tvd::protocol {
namespace {

MembershipUpdate Update(std::vector<MemberChange> changes,
                        std::uint32_t count) {
  MembershipUpdate u;
  u.tvd = "blue";
  u.epoch = 1;
  u.changes = std::move(changes);
  u.member_count = count;
  return u;
}

TEST(MemberListTest, AppliesJoinsMovesAndLeavesInOrder) {
  MemberList list({{"a", "10.0.0.1"}, {"b", "10.0.0.2"}});
  ASSERT_EQ(list.Apply(Update({{MembershipChange::kJoined, {"c", "10.0.0.3"}},
                               {MembershipChange::kLeft, {"a", ""}},
                               {MembershipChange::kJoined, {"b", "10.0.9.2"}}},
                              2)),
            Status::Ok());
  EXPECT_EQ(list.Sorted(),
            (std::vector<Member>{{"b", "10.0.9.2"}, {"c", "10.0.0.3"}}));
  // A rekey changes nobody.
  ASSERT_EQ(list.Apply(Update({}, 2)), Status::Ok());
  ASSERT_EQ(list.Apply(Update({{MembershipChange::kEvicted, {"c", ""}}}, 1)),
            Status::Ok());
  EXPECT_EQ(list.Sorted(), (std::vector<Member>{{"b", "10.0.9.2"}}));
}

TEST(MemberListTest, AnUpdateThatDoesNotFitChangesNothing) {
  const std::vector<Member> before = {{"a", "10.0.0.1"}, {"b", "10.0.0.2"}};
  MemberList list(before);
  EXPECT_EQ(list.Apply(Update({{MembershipChange::kJoined, {"c", "10.0.0.3"}},
                               {MembershipChange::kJoined, {"a", "10.0.7.1"}},
                               {MembershipChange::kLeft, {"x", ""}}},
                              2)),
            ProtocolError("MembershipUpdate: host x left but is not a member"));
  EXPECT_EQ(list.Sorted(), before);
  // The master counts differently: this host missed an update.
  EXPECT_EQ(list.Apply(Update({{MembershipChange::kLeft, {"a", ""}},
                               {MembershipChange::kJoined, {"b", "10.0.5.2"}}},
                              2)),
            ProtocolError("MembershipUpdate: 1 members after the changes, the "
                          "master counts 2"));
  EXPECT_EQ(list.Sorted(), before);
}

}  // namespace
}  // namespace tvd::protocol
