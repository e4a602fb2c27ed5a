// The per-host quota evaluator: what counts, when, and the exact refusal.
#include "tvd/libvirt_filter/tenant_quota.h"

#include <gtest/gtest.h>

#include <limits>

namespace tvd::libvirt_filter {
namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kMiBinKiB = 1024;

DomainCharge Domain(const std::string& name, std::uint8_t tag, bool active,
                    std::uint64_t vcpus, std::uint64_t memory_mib,
                    std::uint64_t disk_gib) {
  DomainCharge d;
  d.name = name;
  Uuid u{};
  u[0] = tag;
  d.uuid = u;
  d.active = active;
  d.vcpus = vcpus;
  d.memory_kib = memory_mib * kMiBinKiB;
  d.disk_bytes = disk_gib * kGiB;
  return d;
}

tvd::policy::QuotaLimits Quota() {
  tvd::policy::QuotaLimits q;
  q.domains = 3;
  q.vcpus = 16;
  q.memory_mib = 16384;
  q.disk_gib = 100;
  return q;
}

// Two running domains (8 + 6 vCPUs, 8192 + 4096 MiB) and one stopped one.
TenantUsage Usage() {
  TenantUsage u;
  u.domains = {Domain("a", 1, true, 8, 8192, 40),
               Domain("b", 2, true, 6, 4096, 20),
               Domain("c", 3, false, 4, 8192, 10)};
  return u;
}

TEST(TenantQuotaTest, DefineCountsEveryDefinedDomain) {
  StatusOr<QuotaAmounts> r = CheckDefine(
      "blue", Quota(), Usage(), Domain("d", 4, false, 1, 512, 1), false);
  EXPECT_EQ(r.status(),
            ResourceExhausted("quota of TVD blue exceeded: domains per host 3, "
                              "in use 3, this domain asks for 1"));
  // A redefinition (same UUID, or same name) replaces and adds no domain.
  r = CheckDefine("blue", Quota(), Usage(), Domain("c2", 3, false, 1, 512, 10),
                  false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, QuotaAmounts{});
  r = CheckDefine("blue", Quota(), Usage(), Domain("c", 9, false, 1, 512, 5),
                  false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, QuotaAmounts{});
}

TEST(TenantQuotaTest, ReservedCallsCountAsUsage) {
  TenantUsage u = Usage();
  u.domains.pop_back();
  u.reserved.domains = 1;  // a define admitted, not yet answered
  EXPECT_EQ(
      CheckDefine("blue", Quota(), u, Domain("d", 4, false, 1, 512, 1), false)
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: domains per host 3, "
                        "in use 3, this domain asks for 1"));
}

TEST(TenantQuotaTest, DefineCountsDiskOfEveryDefinedDomain) {
  tvd::policy::QuotaLimits q = Quota();
  q.domains.reset();
  // In use: 40 + 20 + 10 GiB, running or not.
  EXPECT_EQ(
      CheckDefine("blue", q, Usage(), Domain("d", 4, false, 1, 512, 31), false)
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: disk per host 100 "
                        "GiB, in use 70 GiB, this domain asks for 31 "
                        "GiB"));
  StatusOr<QuotaAmounts> r =
      CheckDefine("blue", q, Usage(), Domain("d", 4, false, 1, 512, 30), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->domains, 1u);
  EXPECT_EQ(r->disk_bytes, 30 * kGiB);
  EXPECT_EQ(r->vcpus, 0u);  // not started
  // A redefinition that grows a disk counts without its old size.
  EXPECT_EQ(
      CheckDefine("blue", q, Usage(), Domain("c", 3, false, 1, 512, 41), false)
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: disk per host 100 "
                        "GiB, in use 60 GiB, this domain asks for 41 "
                        "GiB"));
  // Disk amounts are printed rounded up.
  DomainCharge small = Domain("d", 4, false, 1, 512, 0);
  small.disk_bytes = 31 * kGiB - 1;
  EXPECT_EQ(CheckDefine("blue", q, Usage(), small, false).status(),
            ResourceExhausted("quota of TVD blue exceeded: disk per host 100 "
                              "GiB, in use 70 GiB, this domain asks for 31 "
                              "GiB"));
}

TEST(TenantQuotaTest, DefineLargerThanTheWholeQuotaIsRefusedAtOnce) {
  tvd::policy::QuotaLimits q = Quota();
  q.domains.reset();
  EXPECT_EQ(
      CheckDefine("blue", q, Usage(), Domain("d", 4, false, 17, 512, 1), false)
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: vcpus per host 16, "
                        "this domain alone asks for 17"));
  EXPECT_EQ(
      CheckDefine("blue", q, Usage(), Domain("d", 4, false, 1, 16385, 1), false)
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: memory per host "
                        "16384 MiB, this domain alone asks for 16385 "
                        "MiB"));
  // Fits alone: defined, though it cannot start while a and b run.
  EXPECT_TRUE(CheckDefine("blue", q, Usage(),
                          Domain("d", 4, false, 16, 16384, 1), false)
                  .ok());
}

TEST(TenantQuotaTest, StartMustFitTheRunningDomains) {
  // Running: 8 + 6 = 14 vCPUs; the stopped one does not count.
  EXPECT_EQ(
      CheckStart("blue", Quota(), Usage(), Domain("c", 3, false, 4, 1024, 10))
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: vcpus per host 16, "
                        "in use 14, this domain asks for 4"));
  EXPECT_EQ(
      CheckStart("blue", Quota(), Usage(), Domain("c", 3, false, 2, 8192, 10))
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: memory per host "
                        "16384 MiB, in use 12288 MiB, this domain asks "
                        "for 8192 MiB"));
  StatusOr<QuotaAmounts> r =
      CheckStart("blue", Quota(), Usage(), Domain("c", 3, false, 2, 4096, 10));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->vcpus, 2u);
  EXPECT_EQ(r->memory_kib, 4096 * kMiBinKiB);
  EXPECT_EQ(r->domains, 0u);
  EXPECT_EQ(r->disk_bytes, 0u);
  // Already running: nothing changes.
  r = CheckStart("blue", Quota(), Usage(), Usage().domains[0]);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, QuotaAmounts{});
}

TEST(TenantQuotaTest, CreateXmlDefinesAndStarts) {
  tvd::policy::QuotaLimits q = Quota();
  q.domains = 4;
  EXPECT_EQ(
      CheckDefine("blue", q, Usage(), Domain("d", 4, false, 3, 512, 1), true)
          .status(),
      ResourceExhausted("quota of TVD blue exceeded: vcpus per host 16, "
                        "in use 14, this domain asks for 3"));
  StatusOr<QuotaAmounts> r =
      CheckDefine("blue", q, Usage(), Domain("d", 4, false, 2, 512, 1), true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (QuotaAmounts{1, 2, 512 * kMiBinKiB, kGiB}));
}

TEST(TenantQuotaTest, LiveGrowthMustFitShrinkingAlwaysDoes) {
  const DomainCharge b = Usage().domains[1];  // 6 vCPUs, running
  DomainCharge grown = b;
  grown.vcpus = 9;  // others run 8
  EXPECT_EQ(CheckResize("blue", Quota(), Usage(), b, grown, true).status(),
            ResourceExhausted("quota of TVD blue exceeded: vcpus per host 16, "
                              "in use 8, this domain asks for 9"));
  grown.vcpus = 8;
  StatusOr<QuotaAmounts> r =
      CheckResize("blue", Quota(), Usage(), b, grown, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->vcpus, 2u);
  // Over quota already (the quota was lowered): shrinking is allowed.
  tvd::policy::QuotaLimits low = Quota();
  low.vcpus = 4;
  DomainCharge shrunk = b;
  shrunk.vcpus = 5;
  EXPECT_TRUE(CheckResize("blue", low, Usage(), b, shrunk, true).ok());
  DomainCharge more_memory = b;
  more_memory.memory_kib = 8193 * kMiBinKiB;  // others: 8192
  EXPECT_EQ(
      CheckResize("blue", Quota(), Usage(), b, more_memory, true).status(),
      ResourceExhausted("quota of TVD blue exceeded: memory per host 16384 "
                        "MiB, in use 8192 MiB, this domain asks for 8193 MiB"));
}

TEST(TenantQuotaTest, ConfigChangeMustFitAlone) {
  const DomainCharge c = Usage().domains[2];  // stopped, 4 vCPUs
  DomainCharge grown = c;
  grown.vcpus = 16;  // cannot start now, but fits the quota alone
  StatusOr<QuotaAmounts> r =
      CheckResize("blue", Quota(), Usage(), c, grown, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, QuotaAmounts{});
  grown.vcpus = 17;
  EXPECT_EQ(CheckResize("blue", Quota(), Usage(), c, grown, false).status(),
            ResourceExhausted("quota of TVD blue exceeded: vcpus per host 16, "
                              "this domain alone asks for 17"));
}

TEST(TenantQuotaTest, HugeValuesDoNotWrapAround) {
  DomainCharge huge = Domain("d", 4, false, 1, 1, 1);
  huge.memory_kib = std::numeric_limits<std::uint64_t>::max();
  TenantUsage u = Usage();
  u.domains[0].memory_kib = std::numeric_limits<std::uint64_t>::max();
  tvd::policy::QuotaLimits q = Quota();
  q.domains.reset();
  q.memory_mib = 64ull * 1024 * 1024;
  EXPECT_EQ(CheckStart("blue", q, u, huge).status().code(),
            ErrorCode::kResourceExhausted);
}

TEST(TenantQuotaTest, NoQuotaNoLimit) {
  TenantUsage u = Usage();
  StatusOr<QuotaAmounts> r = CheckDefine(
      "blue", {}, u, Domain("d", 4, false, 1000, 1 << 20, 1 << 20), true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->domains, 1u);
}

}  // namespace
}  // namespace tvd::libvirt_filter
