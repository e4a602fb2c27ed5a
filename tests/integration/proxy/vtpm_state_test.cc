// SwtpmVtpmStates with the real swtpm (issue 16): the state a proxy makes
// for a VM's vTPM is encrypted with the VM's passphrase (swtpm's header
// says so, the body has none of the long zero runs a plain TPM state has,
// another passphrase does not open it), opens again with the right one and
// the same EK, is never made twice, and is gone after Remove.
#include "tvd/proxy/vtpm_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tvd/attest/esys_tpm.h"
#include "tvd/attest/swtpm_process.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/protocol/messages.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::proxy {
namespace {

constexpr char kUuid[] = "6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60";

SecureBytes Passphrase(char c) {
  std::vector<std::uint8_t> p(64, static_cast<std::uint8_t>(c));
  return SecureBytes(std::span<const std::uint8_t>(p));
}

std::vector<std::uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// swtpm's state blob header (swtpm_nvstore.h): version, min_version,
// hdrsize (big-endian u16), flags (u16), totlen (u32). Flag 0x1: the data
// is encrypted with the state key.
std::uint16_t HeaderFlags(const std::vector<std::uint8_t>& blob) {
  if (blob.size() < 10) return 0xffff;
  return static_cast<std::uint16_t>(blob[4] << 8 | blob[5]);
}

std::size_t LongestZeroRun(const std::vector<std::uint8_t>& blob) {
  std::size_t best = 0, run = 0;
  for (std::size_t i = 10; i < blob.size(); ++i) {
    run = blob[i] == 0 ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

// The EK of a state, read through a private swtpm with `passphrase`
// (null: unencrypted).
StatusOr<std::vector<std::uint8_t>> EkOf(const std::string& dir,
                                         const SecureBytes* passphrase) {
  attest::SwtpmProcessOptions o;
  o.state_dir = dir;
  o.passphrase = passphrase;
  TVD_ASSIGN_OR_RETURN(auto swtpm, attest::SwtpmProcess::Start(o));
  attest::EsysTpmOptions t;
  t.tcti = swtpm.tcti();
  TVD_ASSIGN_OR_RETURN(auto tpm, attest::EsysTpm::Open(t));
  return tpm->EkPublic();
}

TEST(VtpmStateTest, TheStateIsEncryptedOpensOnlyWithItsPassphraseAndGoes) {
  testing::TempDir dir("vtpm-state");
  const std::string storage = dir.path() + "/swtpm";
  SwtpmVtpmStates states(storage);
  const SecureBytes pass = Passphrase('3');
  // A daemon's umask (systemd's UMask=0027) must not close the directories
  // libvirt's swtpm user passes through.
  const mode_t umask_before = ::umask(027);
  auto publics = states.Create(kUuid, pass);
  ::umask(umask_before);
  ASSERT_TRUE(publics.ok()) << publics.status();
  EXPECT_TRUE(attest::CheckEndorsementKey(publics->ek_public).ok());
  EXPECT_TRUE(attest::CheckAttestationKey(publics->ak_public).ok());
  EXPECT_TRUE(states.Exists(kUuid));
  EXPECT_EQ(states.StateDir(kUuid), storage + "/" + kUuid + "/tpm2");
  namespace fs = std::filesystem;
  const fs::perms passable =
      fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec;
  EXPECT_EQ(fs::status(storage).permissions() & fs::perms::all, passable);
  EXPECT_EQ(fs::status(storage + "/" + kUuid).permissions() & fs::perms::all,
            passable);
  EXPECT_EQ(fs::status(states.StateDir(kUuid)).permissions() & fs::perms::all,
            fs::perms::owner_all);

  // What libvirt will find: swtpm's permanent state, encrypted.
  const std::string permall = states.StateDir(kUuid) + "/tpm2-00.permall";
  auto blob = ReadAll(permall);
  ASSERT_GT(blob.size(), 1000u) << permall;
  EXPECT_EQ(HeaderFlags(blob) & 0x1, 0x1) << "flags " << HeaderFlags(blob);
  // The same TPM made without a passphrase, to show the probes can fail.
  const std::string plain_dir = dir.path() + "/plain";
  std::filesystem::create_directory(plain_dir);
  ASSERT_TRUE(EkOf(plain_dir, nullptr).ok());
  auto plain = ReadAll(plain_dir + "/tpm2-00.permall");
  ASSERT_GT(plain.size(), 1000u);
  EXPECT_EQ(HeaderFlags(plain) & 0x1, 0) << "flags " << HeaderFlags(plain);
  EXPECT_GE(LongestZeroRun(plain), 32u);
  EXPECT_LT(LongestZeroRun(blob), 16u);

  // Another passphrase does not open it; its own does, with the same EK.
  const SecureBytes wrong = Passphrase('4');
  EXPECT_FALSE(EkOf(states.StateDir(kUuid), &wrong).ok());
  auto ek = EkOf(states.StateDir(kUuid), &pass);
  ASSERT_TRUE(ek.ok()) << ek.status();
  EXPECT_EQ(*ek, publics->ek_public);

  // Never made twice; a bad UUID is refused before anything is touched.
  EXPECT_EQ(states.Create(kUuid, pass).status(),
            AlreadyExists("vTPM state of domain " + std::string(kUuid) +
                          " already exists (" + storage + "/" + kUuid + ")"));
  EXPECT_EQ(states.Create("../etc", pass).status(),
            InvalidArgument("not a domain UUID: '../etc'"));
  EXPECT_EQ(
      states.Remove("../" + std::string(kUuid)),
      InvalidArgument("not a domain UUID: '../" + std::string(kUuid) + "'"));

  ASSERT_TRUE(states.Remove(kUuid).ok());
  EXPECT_FALSE(states.Exists(kUuid));
  EXPECT_FALSE(std::filesystem::exists(storage + "/" + kUuid));
  EXPECT_TRUE(states.Remove(kUuid).ok());  // gone already
}

}  // namespace
}  // namespace tvd::proxy
