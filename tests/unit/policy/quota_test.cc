#include "tvd/policy/quota.h"

#include <gtest/gtest.h>

#include <limits>

namespace tvd::policy {
namespace {

constexpr std::uint64_t kGib = std::uint64_t{1} << 30;

TEST(QuotaTest, AmountsAddSaturating) {
  QuotaAmounts a{1, 2, 3, 4};
  a += QuotaAmounts{10, 20, 30, 40};
  EXPECT_EQ(a, (QuotaAmounts{11, 22, 33, 44}));
  a += QuotaAmounts{std::numeric_limits<std::uint64_t>::max(), 0, 0, 0};
  EXPECT_EQ(a.domains, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(FlooredSub(3, 5), 0u);
  EXPECT_TRUE(QuotaAmounts{}.zero());
  EXPECT_FALSE(a.zero());
}

TEST(QuotaTest, LimitsAreInTheAmountsUnits) {
  QuotaLimits q;
  q.memory_mib = 2;
  q.disk_gib = 3;
  EXPECT_EQ(LimitOf(q, QuotaKind::kMemory), 2048u);
  EXPECT_EQ(LimitOf(q, QuotaKind::kDisk), 3 * kGib);
  EXPECT_FALSE(LimitOf(q, QuotaKind::kVcpus));
  EXPECT_EQ(PrintAmount(QuotaKind::kMemory, 1025), "2 MiB");
  EXPECT_EQ(PrintAmount(QuotaKind::kDisk, kGib + 1), "2 GiB");
  EXPECT_EQ(PrintAmount(QuotaKind::kDomains, 7), "7");
}

TEST(QuotaTest, FitsUpToTheLimitExactly) {
  QuotaLimits q;
  q.vcpus = 32;
  EXPECT_TRUE(
      CheckQuota("blue", q, QuotaScope::kTotal, {0, 28, 0, 0}, {0, 4, 0, 0})
          .ok());
  Status over =
      CheckQuota("blue", q, QuotaScope::kTotal, {0, 30, 0, 0}, {0, 4, 0, 0});
  EXPECT_EQ(over.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(over.message(),
            "quota of TVD blue exceeded: vcpus in total 32, in use 30, this "
            "domain asks for 4");
}

TEST(QuotaTest, OnlyWhatTheCallAddsIsChecked) {
  // Usage above the limit (a policy lowered after the fact) does not block
  // a call that adds nothing of that kind.
  QuotaLimits q;
  q.domains = 2;
  q.disk_gib = 10;
  EXPECT_TRUE(
      CheckQuota("blue", q, QuotaScope::kPerHost, {5, 0, 0, 0}, {0, 0, 0, kGib})
          .ok());
  Status disk = CheckQuota("blue", q, QuotaScope::kPerHost,
                           {0, 0, 0, 10 * kGib}, {0, 0, 0, 1});
  EXPECT_EQ(disk.message(),
            "quota of TVD blue exceeded: disk per host 10 GiB, in use 10 GiB, "
            "this domain asks for 1 GiB");
}

TEST(QuotaTest, FirstKindThatDoesNotFitIsNamed) {
  QuotaLimits q;
  q.vcpus = 1;
  q.memory_mib = 1;
  Status s = CheckQuota("red", q, QuotaScope::kTotal, {}, {0, 2, 4096, 0});
  EXPECT_EQ(s.message(),
            "quota of TVD red exceeded: vcpus in total 1, in use 0, this "
            "domain asks for 2");
}

TEST(QuotaTest, ADomainLargerThanTheLimitIsNamedAlone) {
  Status s = QuotaExceededAlone("green", QuotaKind::kMemory,
                                QuotaScope::kPerHost, 4096 * 1024, 5120 * 1024);
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "quota of TVD green exceeded: memory per host 4096 MiB, this "
            "domain alone asks for 5120 MiB");
}

}  // namespace
}  // namespace tvd::policy
