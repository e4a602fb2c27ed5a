// EsysTpm with a TpmKeyCache on a real swtpm: keys saved by one opening are
// the keys later openings use, and a saved context the TPM refuses (here:
// one saved on another TPM, as after a reset) is replaced by a new key.
#include "tvd/attest/tpm_key_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tvd/attest/credential.h"
#include "tvd/attest/esys_tpm.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/testing/swtpm.h"

namespace tvd::attest {
namespace {

struct Keys {
  std::vector<std::uint8_t> ek;
  std::vector<std::uint8_t> ak;
};

StatusOr<std::unique_ptr<EsysTpm>> OpenWith(
    const testing::SwtpmInstance& swtpm, std::shared_ptr<TpmKeyCache> cache) {
  return EsysTpm::Open({.tcti = swtpm.tcti(), .key_cache = std::move(cache)});
}

StatusOr<Keys> ReadKeys(EsysTpm& tpm) {
  Keys k;
  TVD_ASSIGN_OR_RETURN(k.ek, tpm.EkPublic());
  TVD_ASSIGN_OR_RETURN(k.ak, tpm.AkPublic());
  return k;
}

// The secret comes back only when the opened TPM holds both the EK and the
// AK the credential was made for.
Status ActivatesCredentialFor(EsysTpm& tpm, const Keys& keys) {
  TVD_ASSIGN_OR_RETURN(auto ak_name, TpmObjectName(keys.ak));
  const std::uint8_t secret[] = {7, 1, 7, 1, 7, 1, 7, 1};
  TVD_ASSIGN_OR_RETURN(auto challenge,
                       MakeCredential(keys.ek, ak_name, secret));
  TVD_ASSIGN_OR_RETURN(SecureBytes got, tpm.ActivateCredential(challenge));
  if (!got.Equals(secret)) {
    return Internal("activated secret differs");
  }
  return Status::Ok();
}

TEST(TpmKeyCacheTest, LaterOpeningsUseTheSavedKeys) {
  auto swtpm = testing::SwtpmInstance::Start();
  ASSERT_TRUE(swtpm.ok()) << swtpm.status();
  auto cache = std::make_shared<TpmKeyCache>();
  Keys first;
  {
    auto tpm = OpenWith(**swtpm, cache);
    ASSERT_TRUE(tpm.ok()) << tpm.status();
    auto keys = ReadKeys(**tpm);
    ASSERT_TRUE(keys.ok()) << keys.status();
    first = *keys;
  }
  EXPECT_EQ(cache->size(), 2u);
  for (int opening = 0; opening < 3; ++opening) {
    auto tpm = OpenWith(**swtpm, cache);
    ASSERT_TRUE(tpm.ok()) << tpm.status();
    EXPECT_EQ(ActivatesCredentialFor(**tpm, first), Status::Ok());
    auto quote = (*tpm)->Quote(std::vector<std::uint32_t>{16}, Sha256("n"));
    EXPECT_TRUE(quote.ok()) << quote.status();
    auto keys = ReadKeys(**tpm);
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_EQ(keys->ek, first.ek);
    EXPECT_EQ(keys->ak, first.ak);
  }
  EXPECT_EQ(cache->size(), 2u);
}

TEST(TpmKeyCacheTest, AContextTheTpmRefusesIsReplacedByANewKey) {
  auto tpm_a = testing::SwtpmInstance::Start();
  auto tpm_b = testing::SwtpmInstance::Start();
  ASSERT_TRUE(tpm_a.ok() && tpm_b.ok());
  Keys b_keys;
  {
    auto b = OpenWith(**tpm_b, nullptr);
    ASSERT_TRUE(b.ok()) << b.status();
    auto keys = ReadKeys(**b);
    ASSERT_TRUE(keys.ok()) << keys.status();
    b_keys = *keys;
  }
  auto cache = std::make_shared<TpmKeyCache>();
  Keys a_keys;
  {
    auto a = OpenWith(**tpm_a, cache);
    ASSERT_TRUE(a.ok()) << a.status();
    auto keys = ReadKeys(**a);
    ASSERT_TRUE(keys.ok()) << keys.status();
    a_keys = *keys;
  }
  ASSERT_NE(a_keys.ek, b_keys.ek);
  // TPM B cannot load contexts TPM A saved: it creates its own keys, and
  // the cache now holds those.
  for (int opening = 0; opening < 2; ++opening) {
    auto b = OpenWith(**tpm_b, cache);
    ASSERT_TRUE(b.ok()) << b.status();
    auto keys = ReadKeys(**b);
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_EQ(keys->ek, b_keys.ek);
    EXPECT_EQ(keys->ak, b_keys.ak);
    EXPECT_EQ(ActivatesCredentialFor(**b, b_keys), Status::Ok());
  }
  EXPECT_EQ(cache->size(), 2u);
}

// The fixture itself: a state directory left by a test process that is
// gone (killed before its destructors ran) goes at the next Start(); a
// live process's stays.
TEST(SwtpmFixtureTest, StateDirsOfGoneTestProcessesAreRemoved) {
  std::ifstream max_in("/proc/sys/kernel/pid_max");
  long pid_max = 0;
  max_in >> pid_max;
  ASSERT_GT(pid_max, 0);
  // Above pid_max: no process has it, ever.
  const std::string gone =
      "/tmp/tvd-swtpm-" + std::to_string(pid_max + 1) + "-leftover";
  const std::string alive =
      "/tmp/tvd-swtpm-" + std::to_string(::getpid()) + "-kept";
  for (const std::string& d : {gone, alive}) {
    std::filesystem::create_directories(d + "/tpm");
    std::ofstream(d + "/tpm/tpm2-00.permall") << "state";
  }
  auto tpm = testing::SwtpmInstance::Start();
  ASSERT_TRUE(tpm.ok()) << tpm.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(gone));
  EXPECT_TRUE(std::filesystem::exists(alive + "/tpm/tpm2-00.permall"));
  const std::string own = (*tpm)->state_dir();
  EXPECT_TRUE(std::filesystem::exists(own));
  tpm->reset();
  EXPECT_FALSE(std::filesystem::exists(own));
  std::filesystem::remove_all(alive);
}

}  // namespace
}  // namespace tvd::attest
