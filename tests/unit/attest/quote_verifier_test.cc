// The verifier against quotes from a software TPM, one refusal at a time.
#include "tvd/attest/quote_verifier.h"

#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tvd/attest/attester.h"
#include "tvd/attest/event_log_builder.h"
#include "tvd/testing/software_tpm.h"

namespace tvd::attest {
namespace {

class QuoteVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ak = tpm_.AkPublic();
    ASSERT_TRUE(ak.ok());
    ASSERT_EQ(aks_.Add(host_, *ak), Status::Ok());
    binding_.fill(0x42);
    req_.pcrs.push_back({0, {Sha256Digest{}}});
  }

  // A challenge issued on connection 1, answered by the software TPM.
  Evidence Answer(AttestChallenge& challenge) {
    challenge.nonce = nonces_.Issue(1);
    challenge.pcrs = PcrSelectionFor(req_);
    challenge.want_ima_log = req_.ima.has_value();
    challenge.want_event_log = req_.measured_boot.has_value();
    Attester attester(&tpm_, {ima_path_, event_log_path_});
    auto e = attester.Answer(challenge, binding_);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return *e;
  }

  // Evidence straight from the TPM, without the attester's own checks, for
  // quotes a real TPM would never produce.
  Evidence RawAnswer(AttestChallenge& challenge) {
    challenge.nonce = nonces_.Issue(1);
    challenge.pcrs = PcrSelectionFor(req_);
    Evidence e;
    e.nonce = challenge.nonce;
    e.ak_public = *tpm_.AkPublic();
    e.quote = *tpm_.Quote(challenge.pcrs, QualifyingData(e.nonce, binding_));
    e.pcrs = *tpm_.ReadPcrs(challenge.pcrs);
    return e;
  }

  Status Verify(const AttestChallenge& c, const Evidence& e) {
    return verifier_.Verify({1, host_, binding_}, c, req_, e);
  }

  testing::SoftwareTpm tpm_;
  AkRegistry aks_;
  NonceRegistry nonces_;
  QuoteVerifier verifier_{aks_, nonces_};
  pki::Identity host_{pki::Role::kHost, "node1"};
  std::array<std::uint8_t, 32> binding_{};
  TcbRequirements req_;
  std::string ima_path_ = "/nonexistent";
  std::string event_log_path_ = "/nonexistent";
};

TEST_F(QuoteVerifierTest, AcceptsGoodEvidence) {
  AttestChallenge c;
  Evidence e = Answer(c);
  EXPECT_EQ(Verify(c, e), Status::Ok());
}

TEST_F(QuoteVerifierTest, RefusesAnotherChannelBinding) {
  AttestChallenge c;
  Evidence e = Answer(c);
  binding_[0] ^= 1;
  EXPECT_EQ(Verify(c, e),
            Unauthenticated("quote is not bound to this nonce and TLS session "
                            "(relayed from another session?)"));
}

TEST_F(QuoteVerifierTest, RefusesTamperedSignatureAndQuote) {
  AttestChallenge c;
  Evidence e = Answer(c);
  Evidence tampered = e;
  tampered.quote.signature.back() ^= 1;
  EXPECT_EQ(Verify(c, tampered),
            Unauthenticated("quote signature does not verify with the "
                            "enrolled AK"));
  AttestChallenge c2;
  Evidence e2 = Answer(c2);
  e2.quote.attest.back() ^= 1;  // inside the PCR digest
  EXPECT_EQ(Verify(c2, e2),
            Unauthenticated("quote signature does not verify with the "
                            "enrolled AK"));
}

TEST_F(QuoteVerifierTest, RefusesWrongMagicAndType) {
  tpm_.magic = 0x12345678;
  AttestChallenge c;
  Evidence e = RawAnswer(c);
  EXPECT_EQ(Verify(c, e),
            Unauthenticated("quote magic is not TPM_GENERATED_VALUE"));
  tpm_.magic = TPM2_GENERATED_VALUE;
  tpm_.attest_type = TPM2_ST_ATTEST_CERTIFY;
  AttestChallenge c2;
  Evidence e2 = RawAnswer(c2);
  EXPECT_EQ(Verify(c2, e2), Unauthenticated("attestation is not a quote"));
}

TEST_F(QuoteVerifierTest, RefusesClockGoingBackwards) {
  AttestChallenge c1;
  Evidence e1 = Answer(c1);
  ASSERT_EQ(Verify(c1, e1), Status::Ok());
  tpm_.clock.clock = 10;  // behind the 1000 already seen
  AttestChallenge c2;
  Evidence e2 = Answer(c2);
  EXPECT_EQ(Verify(c2, e2),
            Unauthenticated("TPM clock went backwards (10 after 1000)"));
  tpm_.clock = {5000, 2, 0};  // a TPM reset that un-happened
  AttestChallenge c3;
  Evidence e3 = Answer(c3);
  EXPECT_EQ(Verify(c3, e3),
            Unauthenticated("TPM reset count went backwards (2 after 3)"));
}

TEST_F(QuoteVerifierTest, RefusesPcrProblems) {
  tpm_.Extend(0, Sha256("firmware"));
  AttestChallenge c;
  Evidence e = Answer(c);
  Sha256Digest pcr0 = ExtendSha256(Sha256Digest{}, Sha256("firmware"));
  EXPECT_EQ(Verify(c, e), PermissionDenied("PCR 0 value " + ToHex(pcr0) +
                                           " is not a known-good value"));
  AttestChallenge c2;
  Evidence e2 = Answer(c2);
  e2.pcrs[0].value = Sha256Digest{};  // lie about the value
  EXPECT_EQ(Verify(c2, e2),
            Unauthenticated("reported PCR values do not match the quoted PCR "
                            "digest"));
  AttestChallenge c3;
  Evidence e3 = Answer(c3);
  c3.pcrs = {0, 1};  // the master asked for more than was quoted
  EXPECT_EQ(Verify(c3, e3),
            Unauthenticated("quote covers PCRs {0} (SHA-256 bank) but {0,1} "
                            "were requested"));
}

TEST_F(QuoteVerifierTest, RefusesNoncesThatAreNotFresh) {
  AttestChallenge c;
  Evidence e = Answer(c);
  ASSERT_EQ(Verify(c, e), Status::Ok());
  EXPECT_EQ(Verify(c, e),
            Unauthenticated("nonce replayed: it was already used"));
  Evidence unknown = e;
  unknown.nonce.fill(1);
  EXPECT_EQ(Verify(c, unknown), Unauthenticated("unknown nonce"));
}

TEST_F(QuoteVerifierTest, RefusesUnknownAk) {
  testing::SoftwareTpm other;
  AttestChallenge c;
  c.nonce = nonces_.Issue(1);
  c.pcrs = {0};
  Attester attester(&other, {});
  auto e = attester.Answer(c, binding_);
  ASSERT_TRUE(e.ok());
  auto name = TpmObjectName(e->ak_public);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(Verify(c, *e), Unauthenticated("AK " + ToHex(*name) +
                                           " is not enrolled for host:node1"));
}

TEST_F(QuoteVerifierTest, HostWithoutTpm) {
  Attester no_tpm(nullptr, {});
  AttestChallenge c;
  c.nonce = nonces_.Issue(1);
  auto e = no_tpm.Answer(c, binding_);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Verify(c, *e), PermissionDenied("host reports no TPM and the "
                                            "requirements need one"));
  req_.allow_no_tpm = true;
  EXPECT_EQ(Verify(c, *e), Status::Ok());
}

// With IMA required, PCRs 0-9 are quoted too and the log's boot_aggregate
// must be the kernel's digest of them.
TEST_F(QuoteVerifierTest, ImaBootAggregateIsCheckedAgainstQuotedPcrs) {
  char tmpl[] = "/tmp/tvd-quote-verifier-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  ima_path_ = std::string(tmpl) + "/ima.log";
  tpm_.Extend(4, Sha256("bootloader"));
  tpm_.Extend(9, Sha256("kernel image"));
  auto read =
      tpm_.ReadPcrs(std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  ASSERT_TRUE(read.ok());
  BootPcrs boot{};
  for (const PcrValue& v : *read) boot[v.index] = v.value;
  auto write_log = [&](const BootPcrs& pcrs) {
    ImaLine first = MakeBootAggregateLine(pcrs);
    ImaLine tool = MakeImaNgLine("/usr/bin/tool", Sha256("tool"));
    std::ofstream(ima_path_, std::ios::trunc) << first.text << "\n"
                                              << tool.text << "\n";
    return std::vector<Sha256Digest>{first.template_sha256,
                                     tool.template_sha256};
  };
  for (const Sha256Digest& d : write_log(boot)) tpm_.Extend(10, d);
  ImaAllowlist allow;
  allow.Allow("/usr/bin/tool", Sha256("tool"));
  req_.ima = allow;
  EXPECT_EQ(PcrSelectionFor(req_),
            (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  AttestChallenge c;
  Evidence good = Answer(c);
  EXPECT_EQ(Verify(c, good), Status::Ok());

  // Same log, replaying to the quoted PCR 10, but its boot_aggregate is of
  // another boot (PCR 4 differs): refused.
  BootPcrs other = boot;
  other[4] = Sha256("another bootloader");
  write_log(other);
  AttestChallenge c2;
  Evidence e2 = Answer(c2);
  EXPECT_EQ(Verify(c2, e2),
            PermissionDenied("IMA log line 1: boot_aggregate sha256:" +
                             ToHex(BootAggregate(other)) +
                             " does not match PCRs 0-9 of the quote (expected "
                             "sha256:" +
                             ToHex(BootAggregate(boot)) + ")"));
  std::remove(ima_path_.c_str());
  ::rmdir(tmpl);
}

}  // namespace
}  // namespace tvd::attest

namespace tvd::attest {
namespace {

// The verifier with a replay cache, against an attester over the software
// TPM: the challenge offers the kept state, the host sends only what is
// new, and each fallback asks for the whole log.
class IncrementalQuoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-incremental-quote-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ima.log";
    auto ak = tpm_.AkPublic();
    ASSERT_TRUE(ak.ok());
    ASSERT_EQ(aks_.Add(host_, *ak), Status::Ok());
    binding_.fill(0x42);
    BootPcrs boot{};  // the software TPM's PCRs 0-9 are all zero
    ImaAllowlist allow;
    for (int i = 1; i < 60; ++i) allow.Allow(Path(i), Sha256(Path(i)));
    req_.ima = allow;
    AppendLine(MakeBootAggregateLine(boot));
    Grow(19);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Path(int i) { return "/usr/sbin/d" + std::to_string(i); }

  void AppendLine(const ImaLine& line) {
    std::ofstream(path_, std::ios::app) << line.text << "\n";
    tpm_.Extend(10, line.template_sha256);
    lines_.push_back(line.text + "\n");
  }
  // `n` more measurements, in the log and in PCR 10.
  void Grow(int n) {
    for (int i = 0; i < n; ++i) {
      int k = static_cast<int>(lines_.size());
      AppendLine(MakeImaNgLine(Path(k), Sha256(Path(k))));
    }
  }
  std::string Lines(std::size_t from, std::size_t to) const {
    std::string out;
    for (std::size_t i = from; i < to; ++i) out += lines_[i];
    return out;
  }

  // A challenge as MasterAttestation builds it.
  AttestChallenge Challenge() {
    AttestChallenge c;
    c.nonce = nonces_.Issue(1);
    c.pcrs = PcrSelectionFor(req_);
    c.want_ima_log = true;
    ImaStart start = verifier_.ImaStartFor(host_, req_);
    c.ima_from = start.from;
    c.ima_pcr10 = start.pcr10;
    return c;
  }
  // What the master sends when the incremental evidence did not apply.
  AttestChallenge FullLogChallenge(const std::string& reason) {
    AttestChallenge c = Challenge();
    c.ima_from = 0;
    c.ima_pcr10 = {};
    c.full_log_reason = reason;
    return c;
  }
  Evidence Answer(const AttestChallenge& c) {
    Attester attester(&tpm_, {path_});
    auto e = attester.Answer(c, binding_);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : Evidence{};
  }
  QuoteVerdict Check(const AttestChallenge& c, const Evidence& e) {
    return verifier_.Check({1, host_, binding_}, c, req_, e);
  }
  // The first quote: the whole log, replayed in full.
  void FirstQuote() {
    AttestChallenge c = Challenge();
    ASSERT_EQ(c.ima_from, 0u);
    Evidence e = Answer(c);
    ASSERT_EQ(e.ima_offset, 0u);
    QuoteVerdict v = Check(c, e);
    ASSERT_EQ(v.status, Status::Ok());
    ASSERT_EQ(v.need_full_log, "");
  }
  static void EditFileDigest(std::string& log, int line) {
    std::size_t start = 0;
    for (int i = 1; i < line; ++i) start = log.find('\n', start) + 1;
    std::size_t at = log.find("sha256:", start) + 7;
    log[at] = log[at] == '0' ? '1' : '0';
  }

  std::string dir_, path_;
  std::vector<std::string> lines_;
  testing::SoftwareTpm tpm_;
  AkRegistry aks_;
  NonceRegistry nonces_;
  ImaReplayCache cache_;
  QuoteVerifier verifier_{aks_, nonces_, &cache_};
  pki::Identity host_{pki::Role::kHost, "node1"};
  std::array<std::uint8_t, 32> binding_{};
  TcbRequirements req_;
};

TEST_F(IncrementalQuoteTest, SecondQuoteSendsAndReplaysOnlyNewEntries) {
  FirstQuote();
  auto pcr10 = tpm_.ReadPcrs(std::vector<std::uint32_t>{10});
  ASSERT_TRUE(pcr10.ok());
  ImaStart start = verifier_.ImaStartFor(host_, req_);
  EXPECT_EQ(start.from, 20u);
  EXPECT_EQ(start.pcr10, (*pcr10)[0].value);

  Grow(10);
  AttestChallenge c = Challenge();
  EXPECT_EQ(c.ima_from, 20u);
  Evidence e = Answer(c);
  EXPECT_EQ(e.ima_offset, 20u);
  EXPECT_EQ(e.ima_entries, 30u);
  EXPECT_EQ(e.ima_log, Lines(20, 30));
  QuoteVerdict v = Check(c, e);
  EXPECT_EQ(v.status, Status::Ok());
  EXPECT_EQ(v.need_full_log, "");
  EXPECT_EQ(verifier_.ImaStartFor(host_, req_).from, 30u);
  EXPECT_EQ(cache_.counters(), (ImaReplayCache::Counters{1, 1, 0}));
}

TEST_F(IncrementalQuoteTest, TpmResetFallsBackToTheFullReplay) {
  FirstQuote();
  tpm_.clock.reset_count += 1;  // 3 -> 4, same log and PCR 10
  AttestChallenge c = Challenge();
  Evidence e = Answer(c);
  ASSERT_EQ(e.ima_offset, 20u);
  QuoteVerdict v = Check(c, e);
  EXPECT_EQ(v.need_full_log, "TPM reset count changed (3 -> 4)");
  AttestChallenge c2 = Challenge();
  EXPECT_EQ(verifier_.Verify({1, host_, binding_}, c2, req_, Answer(c2)),
            FailedPrecondition("incremental IMA evidence did not apply (TPM "
                               "reset count changed (3 -> 4)); the whole log "
                               "is needed"));

  AttestChallenge full = FullLogChallenge(v.need_full_log);
  Evidence whole = Answer(full);
  EXPECT_EQ(whole.ima_offset, 0u);
  EXPECT_EQ(whole.ima_log, Lines(0, 20));
  QuoteVerdict again = Check(full, whole);
  EXPECT_EQ(again.status, Status::Ok());
  EXPECT_EQ(again.need_full_log, "");
  EXPECT_EQ(cache_.counters(), (ImaReplayCache::Counters{2, 0, 2}));
  // The state now belongs to the new reset count: incremental again.
  AttestChallenge next = Challenge();
  EXPECT_EQ(Check(next, Answer(next)).status, Status::Ok());
  EXPECT_EQ(cache_.counters(), (ImaReplayCache::Counters{2, 1, 2}));
}

TEST_F(IncrementalQuoteTest, ShorterLogIsSentWholeAndReplayedInFull) {
  FirstQuote();
  auto quoted = tpm_.ReadPcrs(std::vector<std::uint32_t>{10});
  ASSERT_TRUE(quoted.ok());
  // The host lost entries: its log is shorter than what was verified.
  std::ofstream(path_, std::ios::trunc) << Lines(0, 15);
  Sha256Digest replayed{};
  auto entries = ParseImaLog(Lines(0, 15));
  ASSERT_TRUE(entries.ok());
  for (const auto& entry : *entries)
    replayed = ExtendSha256(replayed, entry.template_sha256);
  AttestChallenge c = Challenge();
  ASSERT_EQ(c.ima_from, 20u);
  Evidence e = Answer(c);
  EXPECT_EQ(e.ima_offset, 0u);
  EXPECT_EQ(e.ima_entries, 15u);
  QuoteVerdict v = Check(c, e);
  EXPECT_EQ(v.need_full_log, "");
  EXPECT_EQ(v.status,
            PermissionDenied("IMA log replay gives PCR 10 " + ToHex(replayed) +
                             " but the quoted PCR 10 is " +
                             ToHex((*quoted)[0].value) + " (15 entries)"));
}

TEST_F(IncrementalQuoteTest, MismatchFallsBackAndTheFullReplayDecides) {
  FirstQuote();
  Grow(1);
  AttestChallenge c = Challenge();
  Evidence e = Answer(c);
  ASSERT_EQ(e.ima_offset, 20u);
  // The host claims another allowed entry than the one PCR 10 holds.
  ImaLine forged = MakeImaNgLine(Path(40), Sha256(Path(40)));
  e.ima_log = forged.text + "\n";
  auto quoted = tpm_.ReadPcrs(std::vector<std::uint32_t>{10});
  ASSERT_TRUE(quoted.ok());
  auto kept = cache_.Find(host_, req_.ima->fingerprint());
  ASSERT_TRUE(kept.has_value());
  QuoteVerdict v = Check(c, e);
  EXPECT_EQ(v.need_full_log,
            "incremental replay gives PCR 10 " +
                ToHex(ExtendSha256(kept->pcr10, forged.template_sha256)) +
                " but the quoted PCR 10 is " + ToHex((*quoted)[0].value));
  AttestChallenge full = FullLogChallenge(v.need_full_log);
  EXPECT_EQ(Check(full, Answer(full)).status, Status::Ok());
  EXPECT_EQ(verifier_.ImaStartFor(host_, req_).from, 21u);
}

TEST_F(IncrementalQuoteTest, EditedNewEntryIsRefused) {
  FirstQuote();
  Grow(3);
  AttestChallenge c = Challenge();
  Evidence e = Answer(c);
  ASSERT_EQ(e.ima_offset, 20u);
  EditFileDigest(e.ima_log, 2);  // entry 22
  QuoteVerdict v = Check(c, e);
  EXPECT_EQ(v.need_full_log, "");
  EXPECT_EQ(v.status,
            InvalidArgument("IMA log line 22: template hash does not match the "
                            "entry's data (entry edited?)"));
  // Nothing was kept from the refused quote.
  EXPECT_EQ(verifier_.ImaStartFor(host_, req_).from, 20u);
}

TEST_F(IncrementalQuoteTest, EditedEntryInFallbackFullReplayIsRefused) {
  FirstQuote();
  tpm_.clock.reset_count += 1;
  AttestChallenge c = Challenge();
  QuoteVerdict v = Check(c, Answer(c));
  ASSERT_EQ(v.need_full_log, "TPM reset count changed (3 -> 4)");
  AttestChallenge full = FullLogChallenge(v.need_full_log);
  Evidence whole = Answer(full);
  ASSERT_EQ(whole.ima_offset, 0u);
  EditFileDigest(whole.ima_log, 6);
  EXPECT_EQ(Check(full, whole).status,
            InvalidArgument("IMA log line 6: template hash does not match the "
                            "entry's data (entry edited?)"));
}

TEST_F(IncrementalQuoteTest, EvidenceMustStartWhereTheChallengeSaid) {
  FirstQuote();
  Grow(2);
  AttestChallenge c = Challenge();
  Evidence e = Answer(c);
  e.ima_offset = 5;
  e.ima_log = Lines(5, 22);
  EXPECT_EQ(Check(c, e).status,
            InvalidArgument("evidence sends the IMA log from entry 5 but the "
                            "challenge asked for entry 0 or 20"));
}

TEST_F(IncrementalQuoteTest, NewAllowlistStartsOverWithTheWholeLog) {
  FirstQuote();
  ImaAllowlist changed = *req_.ima;
  changed.Allow("/usr/sbin/new", Sha256("new"));
  req_.ima = changed;
  AttestChallenge c = Challenge();
  EXPECT_EQ(c.ima_from, 0u);
  Evidence e = Answer(c);
  EXPECT_EQ(e.ima_offset, 0u);
  EXPECT_EQ(Check(c, e).status, Status::Ok());
  EXPECT_EQ(cache_.counters(), (ImaReplayCache::Counters{2, 0, 0}));
}

// The host's UEFI event log (a synthetic boot) extended into the TPM's
// PCRs as firmware would, and checked against a measured-boot policy.
class MeasuredBootVerifierTest : public QuoteVerifierTest {
 protected:
  void SetUp() override {
    QuoteVerifierTest::SetUp();
    for (const EventLogBuilder::Extend& x : boot_.log.extends()) {
      tpm_.Extend(x.pcr, x.sha256);
    }
    event_log_path_ = ::testing::TempDir() + "event_log_" +
                      std::to_string(::getpid()) + ".bin";
    WriteLog(boot_.log.bytes());
    req_.pcrs.clear();
    req_.measured_boot = boot_.policy;
  }
  void TearDown() override { std::filesystem::remove(event_log_path_); }
  void WriteLog(const std::vector<std::uint8_t>& bytes) {
    std::ofstream(event_log_path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }

  SyntheticBoot boot_ = MakeTypicalBoot("node1");
};

TEST_F(MeasuredBootVerifierTest, AcceptsAGoodBoot) {
  AttestChallenge c;
  Evidence e = Answer(c);
  EXPECT_EQ(c.pcrs, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(e.event_log, boot_.log.bytes());
  EXPECT_EQ(Verify(c, e), Status::Ok());
}

TEST_F(MeasuredBootVerifierTest, RefusesALogThatDoesNotReplayToTheQuote) {
  Sha256Digest rogue = Sha256("rogue boot loader");
  tpm_.Extend(4, rogue);  // measured, but not in the log
  AttestChallenge c;
  Evidence e = Answer(c);
  Sha256Digest quoted = e.pcrs[4].value;
  ASSERT_EQ(e.pcrs[4].index, 4u);
  EXPECT_EQ(Verify(c, e),
            PermissionDenied("event log replay gives PCR 4 " +
                             ToHex(boot_.log.pcrs()[4]) +
                             " but the quoted PCR 4 is " + ToHex(quoted)));
}

TEST_F(MeasuredBootVerifierTest, RefusesADisallowedBootloader) {
  req_.measured_boot->bootloader = {Sha256("grubx64.efi 2.12")};
  AttestChallenge c;
  Evidence e = Answer(c);
  EXPECT_EQ(Verify(c, e),
            PermissionDenied(
                "event log event 30 (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION): "
                "bootloader " +
                ToHex(Sha256("grubx64.efi node1")) +
                " is not allowed by the measured-boot policy"));
}

TEST_F(MeasuredBootVerifierTest, RefusesATamperedLog) {
  // SecureBoot (event 13, PCR 7) claims 01 whatever was measured: the last
  // byte of its data is the value.
  std::vector<std::uint8_t> bytes = boot_.log.bytes();
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  const TcgEvent& sb = log->events[12];
  ASSERT_EQ(sb.type, ev::kEfiVariableDriverConfig);
  // An event's data ends it: the next event starts right after.
  const std::size_t data_at = log->events[13].offset - sb.data.size();
  Sha256Digest measured = Sha256(sb.data);
  bytes[data_at + sb.data.size() - 1] = 0;
  Sha256Digest edited = Sha256(
      std::span<const std::uint8_t>(bytes).subspan(data_at, sb.data.size()));
  WriteLog(bytes);
  AttestChallenge c;
  Evidence e = Answer(c);
  EXPECT_EQ(Verify(c, e),
            InvalidArgument("event log event 13 (PCR 7, "
                            "EV_EFI_VARIABLE_DRIVER_CONFIG): digest " +
                            ToHex(measured) +
                            " is not the SHA-256 of the event data (" +
                            ToHex(edited) + "): the log was altered"));
}

TEST_F(MeasuredBootVerifierTest, RefusesEvidenceWithoutALog) {
  AttestChallenge c;
  Evidence e = Answer(c);
  e.event_log.clear();
  EXPECT_EQ(Verify(c, e),
            PermissionDenied("the requirements need the host's event log "
                             "(measured boot) but the evidence carries none"));
  AttestChallenge c2;
  Evidence e2 = Answer(c2);
  e2.event_log.resize(100);  // cut inside the Spec ID header's event
  EXPECT_EQ(Verify(c2, e2).code(), ErrorCode::kInvalidArgument);
}

TEST_F(MeasuredBootVerifierTest, AttesterNamesAnUnreadableLog) {
  event_log_path_ = "/nonexistent/binary_bios_measurements";
  AttestChallenge c;
  c.nonce = nonces_.Issue(1);
  c.pcrs = PcrSelectionFor(req_);
  c.want_event_log = true;
  Attester attester(&tpm_, {ima_path_, event_log_path_});
  auto e = attester.Answer(c, binding_);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("event log"), std::string::npos)
      << e.status().message();
}

}  // namespace
}  // namespace tvd::attest
