#include "tvd/attest/ima_log.h"

#include <gtest/gtest.h>

#include <array>

namespace tvd::attest {
namespace {

// Computed independently (a script following the kernel's ima-ng layout)
// for path "/usr/bin/true" with file contents "true".
constexpr char kTrueFileDigest[] =
    "b5bea41b6c623f7c09f1bf24dcae58ebab3c0cdd90ad966bc43a45b44867e12b";
constexpr char kTrueSha256Column[] =
    "028b5a74c42958e0cd1a688c6f1ad5277cc3f77f3bc484f828bfc08b234ee009";
constexpr char kTrueSha1Column[] = "68c58cfca9d37c7def9887c8146aceb1eb417d42";

TEST(ImaLogTest, TemplateHashFollowsTheKernelLayout) {
  ImaLine l256 = MakeImaNgLine("/usr/bin/true", Sha256("true"), true);
  EXPECT_EQ(l256.text, std::string("10 ") + kTrueSha256Column +
                           " ima-ng sha256:" + kTrueFileDigest +
                           " /usr/bin/true");
  ImaLine l1 = MakeImaNgLine("/usr/bin/true", Sha256("true"), false);
  EXPECT_EQ(l1.text, std::string("10 ") + kTrueSha1Column + " ima-ng sha256:" +
                         kTrueFileDigest + " /usr/bin/true");
  EXPECT_EQ(ToHex(l1.template_sha256), kTrueSha256Column);
}

TEST(ImaLogTest, ExtendIsSha256OfTheConcatenation) {
  Sha256Digest pcr{};
  for (int i = 0; i < 50; ++i) {
    Sha256Digest d = Sha256(std::to_string(i));
    std::array<std::uint8_t, 64> both;
    std::copy(pcr.begin(), pcr.end(), both.begin());
    std::copy(d.begin(), d.end(), both.begin() + 32);
    Sha256Digest expected = Sha256(both);  // through EVP, independently
    pcr = ExtendSha256(pcr, d);
    ASSERT_EQ(pcr, expected) << i;
  }
}

TEST(ImaLogTest, ParsesAndReplays) {
  std::string log;
  Sha256Digest pcr{};
  ImaAllowlist allow;
  for (int i = 0; i < 5; ++i) {
    std::string path = "/bin/with space " + std::to_string(i);
    ImaLine line = MakeImaNgLine(path, Sha256(path), i % 2 == 0);
    log += line.text + "\n";
    pcr = ExtendSha256(pcr, line.template_sha256);
    allow.Allow(path, Sha256(path));
  }
  auto entries = ParseImaLog(log);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[2].path, "/bin/with space 2");
  EXPECT_EQ((*entries)[2].line, 3u);
  auto replay = ReplayImaLog(log, &allow);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->pcr10, pcr);
  EXPECT_EQ(replay->entries, 5u);
}

TEST(ImaLogTest, RefusalsNameTheLine) {
  std::string good = MakeImaNgLine("/a", Sha256("a")).text + "\n";
  auto err = [&](const std::string& text) {
    return ReplayImaLog(good + text, nullptr).status();
  };
  EXPECT_EQ(err("10 abc ima-ng sha256:00 /x\n"),
            InvalidArgument("IMA log line 2: template hash must be 40 (SHA-1) "
                            "or 64 (SHA-256) hex digits"));
  EXPECT_EQ(err("garbage\n"),
            InvalidArgument("IMA log line 2: expected 5 fields: PCR "
                            "template-hash template digest path"));
  std::string other = good;
  other.replace(0, 2, "11");
  EXPECT_EQ(ReplayImaLog(other, nullptr).status(),
            InvalidArgument("IMA log line 1: entry for PCR 11, expected 10"));
  std::string sig = good;
  sig.replace(sig.find("ima-ng"), 6, "ima-sg");
  EXPECT_EQ(ReplayImaLog(sig, nullptr).status(),
            InvalidArgument(
                "IMA log line 1: unsupported template 'ima-sg' (only ima-ng)"));
  std::string edited = good;
  edited[edited.size() - 2] = 'b';  // path "/a" -> "/b"
  EXPECT_EQ(ReplayImaLog(edited, nullptr).status(),
            InvalidArgument("IMA log line 1: template hash does not match the "
                            "entry's data (entry edited?)"));
  EXPECT_EQ(ReplayImaLog(good.substr(0, good.size() - 1), nullptr).status(),
            InvalidArgument("IMA log line 1: last line is not terminated "
                            "(truncated log?)"));
  EXPECT_EQ(
      err("10 " + std::string(64, '0') + " ima-ng md4:00 /x\n"),
      InvalidArgument("IMA log line 2: unknown file digest algorithm 'md4'"));
}

TEST(ImaLogTest, AllowlistAndViolations) {
  BootPcrs boot{};
  std::string log = MakeBootAggregateLine(boot).text + "\n" +
                    MakeImaNgLine("/bin/ok", Sha256("ok")).text + "\n" +
                    MakeImaNgLine("/bin/evil", Sha256("evil")).text + "\n";
  ImaAllowlist allow;
  allow.Allow("/bin/ok", Sha256("ok"));
  EXPECT_EQ(
      ReplayImaLog(log, &allow, &boot).status(),
      PermissionDenied("IMA log line 3: /bin/evil with sha256:" +
                       ToHex(Sha256("evil")) + " is not in the allowlist"));

  std::string violation = "10 " + std::string(40, '0') +
                          " ima-ng sha256:" + std::string(64, '0') +
                          " /tmp/file\n";
  auto replay = ReplayImaLog(violation, nullptr);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  Sha256Digest ff;
  ff.fill(0xff);
  EXPECT_EQ(replay->pcr10, ExtendSha256(Sha256Digest{}, ff));
  EXPECT_EQ(ReplayImaLog(violation, &allow).status(),
            PermissionDenied("IMA log line 1: /tmp/file is a measurement "
                             "violation"));
}

// Listed entries take a shortcut (hex compared with precomputed hex); it
// must agree with the full check in every case.
TEST(ImaLogTest, AllowlistShortcutAgreesWithFullCheck) {
  ImaAllowlist allow;
  allow.Allow("/bin/a", Sha256("a"));
  std::string sha256_line = MakeImaNgLine("/bin/a", Sha256("a"), true).text;
  std::string sha1_line = MakeImaNgLine("/bin/a", Sha256("a"), false).text;
  for (const std::string& line : {sha256_line, sha1_line}) {
    auto fast = ReplayImaLog(line + "\n", &allow);
    auto full = ReplayImaLog(line + "\n", nullptr);
    ASSERT_TRUE(fast.ok() && full.ok());
    EXPECT_EQ(fast->pcr10, full->pcr10);
    // Upper-case hex is valid too; it goes the long way.
    std::string upper = line;
    auto to_upper = [&upper](std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to; ++i) {
        if (upper[i] >= 'a' && upper[i] <= 'f') upper[i] -= 32;
      }
    };
    to_upper(3, upper.find(" ima-ng"));
    to_upper(upper.find("sha256:") + 7, upper.find(" /bin/a"));
    auto upper_fast = ReplayImaLog(upper + "\n", &allow);
    ASSERT_TRUE(upper_fast.ok()) << upper_fast.status().ToString();
    EXPECT_EQ(upper_fast->pcr10, full->pcr10);
    // A listed file with a forged template hash column is still caught.
    std::string forged = line;
    forged[3] = forged[3] == '0' ? '1' : '0';
    EXPECT_EQ(ReplayImaLog(forged + "\n", &allow).status(),
              InvalidArgument("IMA log line 1: template hash does not match "
                              "the entry's data (entry edited?)"));
  }
}

TEST(ImaAllowlistTest, PairsNotPathsOrDigestsAlone) {
  ImaAllowlist allow;
  for (int i = 0; i < 5000; ++i) {
    allow.Allow("/lib/" + std::to_string(i), Sha256(std::to_string(i)));
  }
  allow.Allow("/lib/7", Sha256("seven, updated"));  // a second version
  allow.Allow("/lib/7", Sha256("seven, updated"));  // duplicates collapse
  EXPECT_EQ(allow.size(), 5001u);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(
        allow.Allows("/lib/" + std::to_string(i), Sha256(std::to_string(i))))
        << i;
  }
  EXPECT_TRUE(allow.Allows("/lib/7", Sha256("seven, updated")));
  EXPECT_FALSE(allow.Allows("/lib/7", Sha256("8")));      // digest of another
  EXPECT_FALSE(allow.Allows("/lib/70000", Sha256("7")));  // unknown path
  EXPECT_FALSE(allow.Allows("/lib/", Sha256("7")));
  EXPECT_FALSE(ImaAllowlist().Allows("/lib/1", Sha256("1")));
}

// Computed independently (Python hashlib): SHA-256 over PCR 0..9 of the
// SHA-256 bank, as kernels >= 5.8 do; PCR i = SHA-256("i").
TEST(ImaLogTest, BootAggregateHashesPcrsZeroToNine) {
  BootPcrs zero{};
  EXPECT_EQ(ToHex(BootAggregate(zero)),
            "7b6436b0c98f62380866d9432c2af0ee08ce16a171bda6951aecd95ee1307d61");
  BootPcrs pcrs;
  for (std::size_t i = 0; i < pcrs.size(); ++i)
    pcrs[i] = Sha256(std::to_string(i));
  // Not the pre-5.8 aggregate over PCRs 0-7 only (e24c56e2...).
  EXPECT_EQ(ToHex(BootAggregate(pcrs)),
            "2e98138fdb602294c3f3aadfd86e819df49ea5ee317807542b80b1a8bacce2e0");
}

class BootAggregateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::size_t i = 0; i < boot_.size(); ++i)
      boot_[i] = Sha256("pcr" + std::to_string(i));
    allow_.Allow("/bin/ok", Sha256("ok"));
    // A listed boot_aggregate must not make any boot_aggregate acceptable.
    allow_.Allow("boot_aggregate", Sha256("listed"));
  }
  static std::string Line(const ImaLine& l) { return l.text + "\n"; }
  std::string Ok() const {
    return Line(MakeImaNgLine("/bin/ok", Sha256("ok")));
  }
  BootPcrs boot_;
  ImaAllowlist allow_;
};

TEST_F(BootAggregateTest, RightDigestAsFirstEntryIsAccepted) {
  std::string log = Line(MakeBootAggregateLine(boot_)) + Ok();
  auto replay = ReplayImaLog(log, &allow_, &boot_);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->entries, 2u);
  // The SHA-1 template column form is the same entry.
  std::string sha1_column =
      Line(MakeImaNgLine("boot_aggregate", BootAggregate(boot_), false)) + Ok();
  EXPECT_TRUE(ReplayImaLog(sha1_column, &allow_, &boot_).ok());
}

TEST_F(BootAggregateTest, WrongDigestIsRefused) {
  BootPcrs other = boot_;
  other[9] = Sha256("another kernel");
  std::string log = Line(MakeBootAggregateLine(other)) + Ok();
  EXPECT_EQ(ReplayImaLog(log, &allow_, &boot_).status(),
            PermissionDenied("IMA log line 1: boot_aggregate sha256:" +
                             ToHex(BootAggregate(other)) +
                             " does not match PCRs 0-9 of the quote (expected "
                             "sha256:" +
                             ToHex(BootAggregate(boot_)) + ")"));
  // Listed in the allowlist or not: the PCRs decide.
  std::string listed =
      Line(MakeImaNgLine("boot_aggregate", Sha256("listed"))) + Ok();
  EXPECT_EQ(ReplayImaLog(listed, &allow_, &boot_).status().message(),
            "IMA log line 1: boot_aggregate sha256:" + ToHex(Sha256("listed")) +
                " does not match PCRs 0-9 of the quote (expected sha256:" +
                ToHex(BootAggregate(boot_)) + ")");
}

TEST_F(BootAggregateTest, BootAggregateNotFirstIsRefused) {
  std::string log = Line(MakeBootAggregateLine(boot_)) + Ok() +
                    Line(MakeBootAggregateLine(boot_));
  EXPECT_EQ(ReplayImaLog(log, &allow_, &boot_).status(),
            PermissionDenied("IMA log line 3: boot_aggregate is accepted only "
                             "as the first entry"));
  // Also when the PCRs are not known, and when the path is listed.
  std::string later =
      Ok() + Line(MakeImaNgLine("boot_aggregate", Sha256("listed")));
  EXPECT_EQ(ReplayImaLog(later, &allow_).status(),
            PermissionDenied("IMA log line 2: boot_aggregate is accepted only "
                             "as the first entry"));
}

TEST_F(BootAggregateTest, FirstEntryMustBeBootAggregate) {
  EXPECT_EQ(ReplayImaLog(Ok(), &allow_, &boot_).status(),
            PermissionDenied("IMA log line 1: the first entry must be "
                             "boot_aggregate, not /bin/ok"));
}

TEST_F(BootAggregateTest, UncheckableBootAggregateIsRefused) {
  std::string log = Line(MakeBootAggregateLine(boot_)) + Ok();
  EXPECT_EQ(ReplayImaLog(log, &allow_).status(),
            PermissionDenied("IMA log line 1: boot_aggregate cannot be "
                             "checked: PCRs 0-9 were not quoted"));
  // A SHA-1 bank boot_aggregate ("sha1:" digest) cannot be checked against
  // the SHA-256 bank the quote covers. Template column computed
  // independently (Python) for digest 20 x 0xaa.
  std::string sha1 =
      "10 3601ff6377b957d707d5ae11d2fecf265263441e48f736e441fc40bccda333f7 "
      "ima-ng sha1:" +
      std::string(40, 'a') + " boot_aggregate\n";
  ASSERT_TRUE(ParseImaLog(sha1).ok());
  EXPECT_EQ(ReplayImaLog(sha1 + Ok(), &allow_, &boot_).status(),
            PermissionDenied("IMA log line 1: boot_aggregate is sha1:" +
                             std::string(40, 'a') +
                             "; only a sha256 boot_aggregate can be checked "
                             "against the quote's SHA-256 PCRs"));
}

TEST_F(BootAggregateTest, ViolationAsBootAggregateIsRefused) {
  std::string log = "10 " + std::string(64, '0') +
                    " ima-ng sha256:" + std::string(64, '0') +
                    " boot_aggregate\n" + Ok();
  EXPECT_EQ(ReplayImaLog(log, &allow_, &boot_).status(),
            PermissionDenied("IMA log line 1: boot_aggregate is a measurement "
                             "violation"));
}

}  // namespace
}  // namespace tvd::attest

namespace tvd::attest {
namespace {

// Copies share the table until one of them is changed: the change stays
// in that copy, and the fingerprint names the contents.
TEST(ImaAllowlistTest, CopiesAreIndependentAndFingerprintNamesTheContents) {
  ImaAllowlist empty;
  EXPECT_EQ(empty.fingerprint(), Sha256Digest{});
  EXPECT_FALSE(empty.Allows("/bin/a", Sha256("a")));
  ImaAllowlist original;
  original.Allow("/bin/a", Sha256("a"));
  ImaAllowlist copy = original;
  EXPECT_EQ(copy.fingerprint(), original.fingerprint());
  EXPECT_TRUE(copy.Allows("/bin/a", Sha256("a")));
  copy.Allow("/bin/b", Sha256("b"));
  EXPECT_TRUE(copy.Allows("/bin/b", Sha256("b")));
  EXPECT_FALSE(original.Allows("/bin/b", Sha256("b")));
  EXPECT_EQ(original.size(), 1u);
  EXPECT_EQ(copy.size(), 2u);
  EXPECT_NE(copy.fingerprint(), original.fingerprint());
  // The same pairs in the same order: the same fingerprint.
  ImaAllowlist again;
  again.Allow("/bin/a", Sha256("a"));
  again.Allow("/bin/b", Sha256("b"));
  EXPECT_EQ(again.fingerprint(), copy.fingerprint());
  // A pair already listed changes nothing.
  again.Allow("/bin/a", Sha256("a"));
  EXPECT_EQ(again.fingerprint(), copy.fingerprint());
  EXPECT_EQ(again.size(), 2u);
  // The path and digest boundaries are part of the fingerprint.
  ImaAllowlist shifted;
  shifted.Allow("/bin/a", Sha256("a"));
  shifted.Allow("/bin/b2", Sha256("b"));
  EXPECT_NE(shifted.fingerprint(), again.fingerprint());
}

}  // namespace
}  // namespace tvd::attest
