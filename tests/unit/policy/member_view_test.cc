// The member view of a TVD policy: the same policy without its authorized
// hosts, whose digest is what a member computes from the view's text.
#include "tvd/policy/member_view.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/testing/test_policy.h"

namespace tvd::policy {
namespace {

using testing::Mutate;

const std::string kMemberPolicy = master::Policy(
    "blue", 1, {"host-a", "host-b", "host-c"}, {Sha256Digest{}}, 60);

TEST(MemberViewTest, TheViewIsThePolicyWithoutItsHosts) {
  auto full = ParseTvdPolicy(kMemberPolicy, "blue.xml");
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->authorized_hosts.size(), 3u);
  auto xml = MemberViewXml(kMemberPolicy, "blue.xml");
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_EQ(xml->find("host-a"), std::string::npos) << *xml;
  auto view = ParseTvdPolicy(*xml, "view");
  ASSERT_TRUE(view.ok()) << view.status() << "\n" << *xml;
  EXPECT_TRUE(view->authorized_hosts.empty());
  // Everything else is the same: the full policy with its hosts cleared
  // has the view's digest, and that is MemberViewDigest.
  TvdPolicy cleared = *full;
  cleared.authorized_hosts.clear();
  EXPECT_EQ(CanonicalDigest(*view), CanonicalDigest(cleared));
  EXPECT_EQ(MemberViewDigest(*full), CanonicalDigest(*view));
  EXPECT_NE(MemberViewDigest(*full), CanonicalDigest(*full));
}

TEST(MemberViewTest, OtherHostsGiveTheSameViewAndOtherRulesAnother) {
  auto full = ParseTvdPolicy(kMemberPolicy, "a");
  auto other_hosts = ParseTvdPolicy(
      Mutate(kMemberPolicy, "CN=host-b,O=VDC", "CN=host-z,O=VDC"), "b");
  auto other_interval =
      ParseTvdPolicy(Mutate(kMemberPolicy, "attestation-interval=\"60\"",
                            "attestation-interval=\"61\""),
                     "c");
  ASSERT_TRUE(full.ok() && other_hosts.ok() && other_interval.ok());
  EXPECT_EQ(MemberViewDigest(*full), MemberViewDigest(*other_hosts));
  EXPECT_NE(MemberViewDigest(*full), MemberViewDigest(*other_interval));
}

TEST(MemberViewTest, TextThatDoesNotLoadIsRefused) {
  EXPECT_EQ(MemberViewXml("<tvd-policy>", "blue.xml").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(MemberViewXml("<tvd-policy/>", "blue.xml").status(),
            InvalidArgument("blue.xml: policy has no <authorized-hosts>"));
}

}  // namespace
}  // namespace tvd::policy
