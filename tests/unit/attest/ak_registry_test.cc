#include "tvd/attest/ak_registry.h"

#include <gtest/gtest.h>
#include <tss2/tss2_tpm2_types.h>

#include "software_tpm.h"
#include "tvd/sha256.h"

namespace tvd::attest {
namespace {

TEST(AkRegistryTest, FindsOnlyForTheEnrolledHost) {
  testing::SoftwareTpm tpm;
  auto ak = tpm.AkPublic();
  ASSERT_TRUE(ak.ok());
  AkRegistry r;
  pki::Identity node1{pki::Role::kHost, "node1"};
  pki::Identity node2{pki::Role::kHost, "node2"};
  ASSERT_EQ(r.Add(node1, *ak), Status::Ok());
  auto name = TpmObjectName(*ak);
  ASSERT_TRUE(name.ok());
  EXPECT_TRUE(r.Find(node1, *name).ok());
  EXPECT_EQ(r.Find(node2, *name).status(),
            Unauthenticated("AK " + ToHex(*name) +
                            " is not enrolled for host:node2"));
}

TEST(AkRegistryTest, RefusesNonAttestationKeys) {
  testing::SoftwareTpm tpm;
  auto ak = tpm.AkPublic();
  ASSERT_TRUE(ak.ok());
  std::vector<std::uint8_t> bad = *ak;
  // objectAttributes (u32, big-endian) follow size(2) type(2) nameAlg(2);
  // RESTRICTED is bit 16, in the second byte.
  static_assert(TPMA_OBJECT_RESTRICTED == 0x10000);
  bad[7] &= static_cast<std::uint8_t>(~0x01);
  AkRegistry r;
  EXPECT_EQ(r.Add({pki::Role::kHost, "n"}, bad),
            InvalidArgument("AK is not a restricted, TPM-generated, "
                            "non-duplicable signing key"));
}

TEST(AkRegistryTest, CountersMustNotGoBackwards) {
  AkRegistry r;
  std::vector<std::uint8_t> ak = {0, 11, 1};
  ASSERT_EQ(r.AdvanceClock(ak, {100, 5, 2}), Status::Ok());
  EXPECT_EQ(r.AdvanceClock(ak, {99, 5, 2}),
            Unauthenticated("TPM clock went backwards (99 after 100)"));
  EXPECT_EQ(r.AdvanceClock(ak, {200, 5, 1}),
            Unauthenticated("TPM restart count went backwards (1 after 2)"));
  EXPECT_EQ(r.AdvanceClock(ak, {200, 4, 9}),
            Unauthenticated("TPM reset count went backwards (4 after 5)"));
  // A reset may restart the clock and restart counter.
  EXPECT_EQ(r.AdvanceClock(ak, {1, 6, 0}), Status::Ok());
  EXPECT_EQ(r.AdvanceClock(ak, {1, 6, 0}), Status::Ok());
}

}  // namespace
}  // namespace tvd::attest
