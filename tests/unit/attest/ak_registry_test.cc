#include "tvd/attest/ak_registry.h"

#include <gtest/gtest.h>
#include <tss2/tss2_tpm2_types.h>

#include "tvd/attest/attestation_sequence.h"
#include "tvd/sha256.h"
#include "tvd/testing/software_tpm.h"

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

// Two challenges answered at once by one TPM: the quote made second may be
// verified first. The one made first is not refused for that, because its
// floor is what was known when its nonce was issued; a quote whose nonce
// came after both still must not go back.
TEST(AkRegistryTest, QuoteVerifiedAfterALaterOneIsNotRefused) {
  AkRegistry r;
  std::vector<std::uint8_t> ak = {0, 11, 3};
  ASSERT_EQ(r.AdvanceClock(ak, {100, 5, 2}), Status::Ok());
  std::uint64_t first = NextAttestationSequence();   // nonce of quote A
  std::uint64_t second = NextAttestationSequence();  // nonce of quote B
  EXPECT_EQ(r.AdvanceClock(ak, {200, 5, 2}, second), Status::Ok());
  EXPECT_EQ(r.AdvanceClock(ak, {150, 5, 2}, first), Status::Ok());
  std::uint64_t third = NextAttestationSequence();
  EXPECT_EQ(r.AdvanceClock(ak, {180, 5, 2}, third),
            Unauthenticated("TPM clock went backwards (180 after 200)"));
  // The late quote did not lower what later ones are held to.
  EXPECT_EQ(r.AdvanceClock(ak, {199, 5, 2}),
            Unauthenticated("TPM clock went backwards (199 after 200)"));
}

// The floor never drops below what was seen before the nonce, however
// many states were recorded since (the history is bounded).
TEST(AkRegistryTest, RolledBackTpmIsRefusedWhateverTheOrder) {
  AkRegistry r;
  std::vector<std::uint8_t> ak = {0, 11, 4};
  ASSERT_EQ(r.AdvanceClock(ak, {100, 5, 2}), Status::Ok());
  std::uint64_t issued = NextAttestationSequence();
  for (std::uint64_t clock = 101; clock < 301; ++clock) {
    ASSERT_EQ(r.AdvanceClock(ak, {clock, 5, 2}), Status::Ok());
  }
  EXPECT_EQ(r.AdvanceClock(ak, {99, 5, 2}, issued).code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(r.AdvanceClock(ak, {4, 5, 1}, issued),
            Unauthenticated("TPM restart count went backwards (1 after 2)"));
}

// The history survives a restart: what the sink saw is what a new registry
// restores, and then the same refusals hold.
TEST(AkRegistryTest, ClockHistoryGoesToTheSinkAndIsRestored) {
  std::vector<std::uint8_t> ak = {0, 11, 7};
  std::vector<TpmClockState> sunk;
  AkRegistry before;
  before.SetClockSink(
      [&](std::span<const std::uint8_t> name, const TpmClockState& st) {
        EXPECT_EQ(std::vector<std::uint8_t>(name.begin(), name.end()), ak);
        sunk.push_back(st);
        return Status::Ok();
      });
  ASSERT_EQ(before.AdvanceClock(ak, {500, 3, 1}), Status::Ok());
  EXPECT_EQ(before.AdvanceClock(ak, {400, 3, 1}).code(),
            ErrorCode::kUnauthenticated);
  ASSERT_EQ(sunk.size(), 1u);  // refusals are not recorded

  AkRegistry after;
  after.RestoreClock(ak, sunk.back());
  after.RestoreClock(ak, {10, 2, 0});  // an older row does not win
  EXPECT_EQ(after.AdvanceClock(ak, {499, 3, 1}),
            Unauthenticated("TPM clock went backwards (499 after 500)"));
  EXPECT_EQ(after.AdvanceClock(ak, {600, 2, 9}),
            Unauthenticated("TPM reset count went backwards (2 after 3)"));
  EXPECT_EQ(after.AdvanceClock(ak, {501, 3, 1}), Status::Ok());
}

// A state that cannot be made durable refuses the quote.
TEST(AkRegistryTest, SinkFailureIsReturned) {
  AkRegistry r;
  r.SetClockSink([](std::span<const std::uint8_t>, const TpmClockState&) {
    return IoError("state db x: disk full");
  });
  std::vector<std::uint8_t> ak = {1};
  EXPECT_EQ(r.AdvanceClock(ak, {1, 1, 1}), IoError("state db x: disk full"));
}

}  // namespace
}  // namespace tvd::attest
