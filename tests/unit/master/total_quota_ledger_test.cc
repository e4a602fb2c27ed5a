#include "tvd/master/total_quota_ledger.h"

#include <gtest/gtest.h>

namespace tvd::master {
namespace {

using policy::QuotaAmounts;
using policy::QuotaLimits;

constexpr std::uint64_t kGib = std::uint64_t{1} << 30;

QuotaLimits Vcpus(std::uint32_t n) {
  QuotaLimits q;
  q.vcpus = n;
  return q;
}

QuotaAmounts V(std::uint64_t vcpus) { return QuotaAmounts{0, vcpus, 0, 0}; }

TEST(TotalQuotaLedgerTest, ClaimsOfSeveralHostsShareTheTotal) {
  TotalQuotaLedger ledger;
  EXPECT_TRUE(ledger.Claim("blue", "h1", Vcpus(8), V(0), V(4)).ok());
  EXPECT_TRUE(ledger.Claim("blue", "h2", Vcpus(8), V(0), V(4)).ok());
  EXPECT_EQ(ledger.Total("blue"), V(8));
  Status s = ledger.Claim("blue", "h3", Vcpus(8), V(0), V(1));
  EXPECT_EQ(s, ResourceExhausted("quota of TVD blue exceeded: vcpus in total "
                                 "8, in use 8, this domain asks for 1"));
  // Refused: nothing recorded for h3.
  EXPECT_FALSE(ledger.Of("blue", "h3"));
  EXPECT_EQ(ledger.Total("blue"), V(8));
}

TEST(TotalQuotaLedgerTest, AHostsFigureIsReplacedNotAddedTo) {
  TotalQuotaLedger ledger;
  ASSERT_TRUE(ledger.Claim("blue", "h1", Vcpus(8), V(0), V(6)).ok());
  // h1 stopped its domains and reports 2: the rest is free again.
  ASSERT_TRUE(ledger.Claim("blue", "h1", Vcpus(8), V(2), V(0)).ok());
  EXPECT_EQ(ledger.Of("blue", "h1"), V(2));
  EXPECT_TRUE(ledger.Claim("blue", "h2", Vcpus(8), V(0), V(6)).ok());
  // The same claim repeated does not count twice.
  ASSERT_TRUE(ledger.Claim("blue", "h2", Vcpus(8), V(0), V(6)).ok());
  EXPECT_EQ(ledger.Total("blue"), V(8));
}

TEST(TotalQuotaLedgerTest, InUseCountsWhatTheHostSaysItHoldsNow) {
  TotalQuotaLedger ledger;
  ASSERT_TRUE(ledger.Claim("blue", "h1", Vcpus(8), V(0), V(7)).ok());
  // h1's relay holds 3 now (its recorded 7 is stale): 3 + 4 fits.
  EXPECT_TRUE(ledger.Claim("blue", "h1", Vcpus(8), V(3), V(4)).ok());
  EXPECT_EQ(ledger.Of("blue", "h1"), V(7));
}

TEST(TotalQuotaLedgerTest, ReportsAndKindsNotGrownAreNeverRefused) {
  TotalQuotaLedger ledger;
  QuotaLimits q;
  q.vcpus = 4;
  q.disk_gib = 10;
  ledger.Set("blue", "h2", QuotaAmounts{0, 4, 0, 10 * kGib});
  // Over the limit already (the policy was lowered), yet a report and a
  // claim of memory only pass.
  EXPECT_TRUE(ledger.Claim("blue", "h1", q, V(2), QuotaAmounts{}).ok());
  EXPECT_TRUE(
      ledger.Claim("blue", "h1", q, V(2), QuotaAmounts{0, 0, 1024, 0}).ok());
  Status disk =
      ledger.Claim("blue", "h1", q, QuotaAmounts{}, QuotaAmounts{1, 0, 0, 1});
  EXPECT_EQ(disk, ResourceExhausted("quota of TVD blue exceeded: disk in total "
                                    "10 GiB, in use 10 GiB, this domain asks "
                                    "for 1 GiB"));
}

TEST(TotalQuotaLedgerTest, TvdsAreSeparateAndDropsForgetExactlyTheirPart) {
  TotalQuotaLedger ledger;
  ASSERT_TRUE(ledger.Claim("blue", "h1", Vcpus(4), V(0), V(4)).ok());
  ASSERT_TRUE(ledger.Claim("blue-x", "h1", Vcpus(4), V(0), V(4)).ok());
  ASSERT_TRUE(ledger.Claim("red", "h1", Vcpus(4), V(0), V(4)).ok());
  ASSERT_TRUE(ledger.Claim("blue", "h2", Vcpus(8), V(0), V(4)).ok());
  ledger.DropHost("blue", "h1");
  EXPECT_EQ(ledger.Total("blue"), V(4));
  EXPECT_EQ(ledger.Total("blue-x"), V(4));
  ledger.DropTvd("blue");
  EXPECT_EQ(ledger.Total("blue"), V(0));
  EXPECT_EQ(ledger.Total("blue-x"), V(4));
  EXPECT_EQ(ledger.Total("red"), V(4));
}

}  // namespace
}  // namespace tvd::master
