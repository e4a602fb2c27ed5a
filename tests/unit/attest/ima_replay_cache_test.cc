// The kept IMA replay states: found only under the host and allowlist they
// were verified for, never wound back by an older quote, bounded per host.
#include "tvd/attest/ima_replay_cache.h"

#include <gtest/gtest.h>

namespace tvd::attest {
namespace {

ImaReplayState State(std::uint32_t reset, std::uint64_t entries,
                     std::vector<std::uint8_t> ak = {1}) {
  ImaReplayState s;
  s.ak_name = std::move(ak);
  s.reset_count = reset;
  s.entries = entries;
  s.pcr10 =
      Sha256("pcr" + std::to_string(reset) + "/" + std::to_string(entries));
  return s;
}

const pki::Identity kNode1{pki::Role::kHost, "node1"};
const pki::Identity kNode2{pki::Role::kHost, "node2"};

TEST(ImaReplayCacheTest, FoundOnlyUnderItsHostAndAllowlist) {
  ImaReplayCache cache;
  Sha256Digest list_a = Sha256("a"), list_b = Sha256("b");
  cache.Store(kNode1, list_a, State(1, 20));
  EXPECT_EQ(cache.Find(kNode1, list_a), State(1, 20));
  EXPECT_EQ(cache.Find(kNode1, list_b), std::nullopt);
  EXPECT_EQ(cache.Find(kNode2, list_a), std::nullopt);
  cache.Forget(kNode1);
  EXPECT_EQ(cache.Find(kNode1, list_a), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ImaReplayCacheTest, AnOlderQuoteDoesNotWindTheStateBack) {
  ImaReplayCache cache;
  Sha256Digest list = Sha256("a");
  cache.Store(kNode1, list, State(1, 30));
  cache.Store(kNode1, list, State(1, 20));  // verified after, quoted before
  EXPECT_EQ(cache.Find(kNode1, list), State(1, 30));
  cache.Store(kNode1, list, State(2, 5));  // after a TPM reset
  EXPECT_EQ(cache.Find(kNode1, list), State(2, 5));
  // Another AK (the host re-enrolled) replaces whatever was kept.
  cache.Store(kNode1, list, State(0, 1, {9}));
  EXPECT_EQ(cache.Find(kNode1, list), State(0, 1, {9}));
}

TEST(ImaReplayCacheTest, KeepsAtMostMaxPerHostDroppingTheLeastRecent) {
  ImaReplayCache cache(2);
  cache.Store(kNode1, Sha256("a"), State(1, 1));
  cache.Store(kNode1, Sha256("b"), State(1, 2));
  cache.Store(kNode1, Sha256("a"), State(1, 3));  // "a" is now the newest
  cache.Store(kNode1, Sha256("c"), State(1, 4));  // drops "b"
  EXPECT_EQ(cache.Find(kNode1, Sha256("b")), std::nullopt);
  EXPECT_EQ(cache.Find(kNode1, Sha256("a")), State(1, 3));
  EXPECT_EQ(cache.Find(kNode1, Sha256("c")), State(1, 4));
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace tvd::attest
