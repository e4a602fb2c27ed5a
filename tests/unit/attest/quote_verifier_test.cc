// The verifier against quotes from a software TPM, one refusal at a time.
#include "tvd/attest/quote_verifier.h"

#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include <fstream>

#include "tvd/testing/software_tpm.h"
#include "tvd/attest/attester.h"

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
    Attester attester(&tpm_, {ima_path_});
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
