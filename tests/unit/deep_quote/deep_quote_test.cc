// The deep quote's chain, one refusal at a time: statements issued by a
// master certificate of an in-memory VDC CA, quotes from a software TPM
// (marshalled and signed as a TPM does; the swtpm test is in
// tests/integration/deep_quote).
#include "tvd/attest/deep_quote.h"

#include <gtest/gtest.h>

#include "tvd/testing/software_tpm.h"
#include "tvd/testing/status_matchers.h"

namespace tvd::attest {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using tvd::testing::IsOk;
using tvd::testing::StatusIs;
using Clock = std::chrono::system_clock;

class DeepQuoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = pki::CreateCa("vdc-test", pki::Validity::ForDays(1));
    ASSERT_THAT(ca, IsOk());
    ca_ = std::move(*ca);
    auto master = pki::IssueCertificate(ca_, pki::Role::kHost, "tvd-master",
                                        pki::Validity::ForDays(1));
    ASSERT_THAT(master, IsOk());
    master_ = std::move(*master);
    auto ak = tpm_.AkPublic();
    ASSERT_THAT(ak, IsOk());
    binding_.tvd = "blue";
    binding_.vm = "web1";
    binding_.host = "node1";
    binding_.ek_public = {0x00, 0x03, 0x01, 0x02, 0x03};
    binding_.ak_public = *ak;
    binding_.created = Now() - 600;
    host_.host = "node1";
    host_.last_good = Now() - 30;
    host_.pcr_digest.fill(0x11);
    host_.policy_digest.fill(0x22);
    nonce_.fill(0x5a);
    Sha256Digest d{};
    d.fill(0x77);
    tpm_.Extend(16, d);
    expected_.tvd = "blue";
    expected_.vm = "web1";
    expected_.nonce.assign(nonce_.begin(), nonce_.end());
  }

  static UnixSeconds Now() { return ToUnixSeconds(Clock::now()); }

  // The quote `tpm` makes over `nonce` of PCRs 0 and 16, as the guest
  // agent reports it.
  static GuestQuoteAnswer QuoteBy(testing::SoftwareTpm& tpm,
                                  const Sha256Digest& nonce) {
    std::vector<std::uint32_t> pcrs = {0, 16};
    GuestQuoteAnswer a;
    auto q = tpm.Quote(pcrs, nonce);
    EXPECT_THAT(q, IsOk());
    auto ak = tpm.AkPublic();
    auto values = tpm.ReadPcrs(pcrs);
    EXPECT_THAT(values, IsOk());
    a.ak_public = *ak;
    a.attest = q->attest;
    a.signature = q->signature;
    for (const PcrValue& v : *values) {
      GuestPcr p;
      p.index = v.index;
      std::copy(v.value.begin(), v.value.end(), p.value.begin());
      a.pcrs.push_back(p);
    }
    return a;
  }

  DeepQuoteEvidence Evidence(const pki::KeyAndCertificate& signer,
                             Clock::time_point issued = Clock::now()) {
    DeepQuoteEvidence e;
    auto s = IssueVtpmStatement(binding_, host_, nonce_, issued, signer);
    EXPECT_THAT(s, IsOk());
    if (s.ok()) e.statement = *s;
    e.quote = QuoteBy(tpm_, nonce_);
    return e;
  }
  DeepQuoteEvidence Evidence() { return Evidence(master_); }

  StatusOr<VerifiedDeepQuote> Verify(const DeepQuoteEvidence& e,
                                     Clock::time_point now = Clock::now()) {
    return VerifyDeepQuote(e, ca_.cert_pem, expected_, now);
  }

  pki::KeyAndCertificate ca_;
  pki::KeyAndCertificate master_;
  testing::SoftwareTpm tpm_;
  VtpmBinding binding_;
  HostAttestationSummary host_;
  Sha256Digest nonce_{};
  DeepQuoteExpectation expected_;
};

TEST_F(DeepQuoteTest, VerifiesTheWholeChain) {
  auto v = Verify(Evidence());
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->master.ToString(), "host:tvd-master");
  EXPECT_EQ(v->statement.host, "node1");
  EXPECT_EQ(v->statement.vtpm_ek_digest, Sha256(binding_.ek_public));
  EXPECT_EQ(v->statement.host_policy_digest, host_.policy_digest);
  ASSERT_EQ(v->pcrs.size(), 2u);
  EXPECT_EQ(v->pcrs[1].index, 16u);
  // PCR 16 after one extend of 0x77..: SHA-256(zeros || 0x77..).
  std::vector<std::uint8_t> chain(64, 0x77);
  std::fill(chain.begin(), chain.begin() + 32, 0);
  EXPECT_EQ(v->pcrs[1].value, Sha256(chain));
}

TEST_F(DeepQuoteTest, WithoutAnExpectedNonceFreshnessRestsOnIssuedAt) {
  expected_.nonce.clear();
  EXPECT_THAT(Verify(Evidence()), IsOk());
}

TEST_F(DeepQuoteTest, VtpmOfAnotherTvdFails) {
  binding_.tvd = "red";
  EXPECT_THAT(Verify(Evidence()), StatusIs(ErrorCode::kPermissionDenied,
                                           "vTPM belongs to TVD red, not "
                                           "blue"));
}

TEST_F(DeepQuoteTest, VtpmOfAnotherVmFails) {
  binding_.vm = "db1";
  EXPECT_THAT(Verify(Evidence()),
              StatusIs(ErrorCode::kPermissionDenied,
                       "vTPM belongs to VM db1 of TVD blue, not web1"));
}

TEST_F(DeepQuoteTest, EvictedHostFails) {
  host_.state = HostMembership::kEvicted;
  EXPECT_THAT(Verify(Evidence()),
              StatusIs(ErrorCode::kPermissionDenied, "host node1 is evicted"));
}

TEST_F(DeepQuoteTest, StaleStatementFails) {
  auto issued = Clock::now();
  EXPECT_THAT(Verify(Evidence(master_, issued), issued + seconds(301)),
              StatusIs(ErrorCode::kUnauthenticated,
                       "statement is stale: issued 301 s ago, the maximum is "
                       "300 s"));
  EXPECT_THAT(Verify(Evidence(master_, issued), issued + seconds(300)), IsOk());
}

TEST_F(DeepQuoteTest, StatementFromTheFutureFails) {
  auto issued = Clock::now();
  EXPECT_THAT(Verify(Evidence(master_, issued), issued - seconds(61)),
              StatusIs(ErrorCode::kUnauthenticated,
                       "statement is dated 61 s in the future (clock skew "
                       "allowed: 60 s)"));
}

TEST_F(DeepQuoteTest, StaleHostAttestationFails) {
  auto issued = Clock::now();
  host_.last_good = ToUnixSeconds(issued) - 3601;
  EXPECT_THAT(Verify(Evidence(master_, issued), issued),
              StatusIs(ErrorCode::kPermissionDenied,
                       "host node1's latest successful attestation is 3601 s "
                       "old, the maximum is 3600 s"));
}

TEST_F(DeepQuoteTest, OtherNonceFails) {
  expected_.nonce.assign(32, 0x01);
  std::string given, wanted;
  for (int i = 0; i < 32; ++i) {
    given += "5a";
    wanted += "01";
  }
  EXPECT_THAT(Verify(Evidence()), StatusIs(ErrorCode::kUnauthenticated,
                                           "statement answers nonce " + given +
                                               ", not the expected " + wanted));
}

TEST_F(DeepQuoteTest, EditedStatementFails) {
  DeepQuoteEvidence e = Evidence();
  e.statement.statement.host_state = HostMembership::kMember;
  e.statement.statement.host_pcr_digest.fill(0x12);
  EXPECT_THAT(Verify(e), StatusIs(ErrorCode::kUnauthenticated,
                                  "statement signature does not verify with "
                                  "the master certificate"));
}

TEST_F(DeepQuoteTest, MasterOfAnotherCaFails) {
  auto other_ca = pki::CreateCa("other", pki::Validity::ForDays(1));
  ASSERT_THAT(other_ca, IsOk());
  auto impostor = pki::IssueCertificate(
      *other_ca, pki::Role::kHost, "tvd-master", pki::Validity::ForDays(1));
  ASSERT_THAT(impostor, IsOk());
  EXPECT_THAT(Verify(Evidence(*impostor)),
              StatusIs(ErrorCode::kUnauthenticated,
                       "master certificate is not trusted: unable to get local "
                       "issuer certificate"));
}

TEST_F(DeepQuoteTest, ExpiredMasterCertificateFails) {
  EXPECT_THAT(Verify(Evidence(), Clock::now() + std::chrono::hours(48)),
              StatusIs(ErrorCode::kUnauthenticated,
                       "master certificate is not trusted: certificate has "
                       "expired"));
}

TEST_F(DeepQuoteTest, HostCertificateIsNotTheMaster) {
  auto host = pki::IssueCertificate(ca_, pki::Role::kHost, "node1",
                                    pki::Validity::ForDays(1));
  ASSERT_THAT(host, IsOk());
  EXPECT_THAT(Verify(Evidence(*host)),
              StatusIs(ErrorCode::kUnauthenticated,
                       "master certificate names host:node1, not the master "
                       "host:tvd-master"));
}

TEST_F(DeepQuoteTest, QuoteByAnotherAkFails) {
  DeepQuoteEvidence e = Evidence();
  testing::SoftwareTpm other;
  e.quote = QuoteBy(other, nonce_);
  EXPECT_THAT(Verify(e), StatusIs(ErrorCode::kUnauthenticated,
                                  "the quote's AK is not the AK the master "
                                  "bound to the vTPM of VM web1"));
  // The bound AK's public with another key's quote: the signature fails.
  e.quote.ak_public = e.statement.statement.vtpm_ak;
  EXPECT_THAT(Verify(e), StatusIs(ErrorCode::kUnauthenticated,
                                  "quote signature does not verify with the "
                                  "bound AK"));
}

TEST_F(DeepQuoteTest, QuoteOverAnotherNonceFails) {
  DeepQuoteEvidence e = Evidence();
  Sha256Digest other{};
  other.fill(0x01);
  e.quote = QuoteBy(tpm_, other);
  EXPECT_THAT(Verify(e), StatusIs(ErrorCode::kUnauthenticated,
                                  "quote is not over the statement's nonce"));
}

TEST_F(DeepQuoteTest, EditedPcrValueFails) {
  DeepQuoteEvidence e = Evidence();
  e.quote.pcrs[1].value.fill(0);
  EXPECT_THAT(Verify(e), StatusIs(ErrorCode::kUnauthenticated,
                                  "reported PCR values do not match the "
                                  "quoted PCR digest"));
  e = Evidence();
  e.quote.pcrs.pop_back();
  EXPECT_THAT(Verify(e), StatusIs(ErrorCode::kUnauthenticated,
                                  "quote covers PCRs {0,16} (SHA-256 bank) but "
                                  "{0} were requested"));
}

TEST_F(DeepQuoteTest, NeedsTheExpectedTvdAndVm) {
  expected_.vm.clear();
  EXPECT_THAT(Verify(Evidence()),
              StatusIs(ErrorCode::kInvalidArgument,
                       "the expected TVD and VM must be given"));
}

TEST_F(DeepQuoteTest, IssueRefusesWhatItCannotVouchFor) {
  host_.host = "node2";
  EXPECT_THAT(
      IssueVtpmStatement(binding_, host_, nonce_, Clock::now(), master_),
      StatusIs(ErrorCode::kFailedPrecondition,
               "vTPM of VM web1 is bound to host node1, not node2"));
  host_.host = "node1";
  host_.last_good = 0;
  EXPECT_THAT(
      IssueVtpmStatement(binding_, host_, nonce_, Clock::now(), master_),
      StatusIs(ErrorCode::kFailedPrecondition,
               "host node1 has never passed attestation"));
  host_.last_good = Now();
  binding_.ak_public = binding_.ek_public;
  EXPECT_THAT(
      IssueVtpmStatement(binding_, host_, nonce_, Clock::now(), master_),
      StatusIs(ErrorCode::kInvalidArgument,
               "bound AK: TPM public area does not unmarshal"));
  auto ak = tpm_.AkPublic();
  binding_.ak_public = *ak;
  auto other = pki::IssueCertificate(ca_, pki::Role::kHost, "tvd-master",
                                     pki::Validity::ForDays(1));
  ASSERT_THAT(other, IsOk());
  pki::KeyAndCertificate mixed{master_.key_pem.Clone(), other->cert_pem};
  EXPECT_THAT(IssueVtpmStatement(binding_, host_, nonce_, Clock::now(), mixed),
              StatusIs(ErrorCode::kInvalidArgument,
                       "master private key does not match its certificate"));
  binding_.vm = "bad/name";
  EXPECT_THAT(
      IssueVtpmStatement(binding_, host_, nonce_, Clock::now(), master_),
      StatusIs(ErrorCode::kInvalidArgument,
               "statement field vm 'bad/name' is not a valid name "
               "(1-64 of [A-Za-z0-9._-])"));
}

TEST_F(DeepQuoteTest, CanonicalStatementIsFixed) {
  VtpmStatement s;
  s.tvd = "blue";
  s.vm = "web1";
  s.host = "node1";
  s.vtpm_ak = {0x01};
  s.binding_created = 1;
  s.host_attested_at = 2;
  s.host_state = HostMembership::kEvicted;
  s.nonce.assign(16, 0xff);
  s.issued_at = 3;
  auto c = CanonicalStatement(s);
  ASSERT_THAT(c, IsOk());
  const std::string z(64, '0');
  EXPECT_EQ(*c,
            "tvd-vtpm-statement/1\ntvd=blue\nvm=web1\nhost=node1\n"
            "vtpm_ek_sha256=" +
                z +
                "\nvtpm_ak=01\nbinding_created=1\n"
                "host_attested_at=2\nhost_pcr_digest=" +
                z + "\nhost_policy_digest=" + z +
                "\nhost_state=evicted\nnonce=" + std::string(32, 'f') +
                "\nissued_at=3\n");
}

// The encoding: a round trip, then the parser's refusals.
TEST_F(DeepQuoteTest, EvidenceRoundTrip) {
  DeepQuoteEvidence e = Evidence();
  auto json = EncodeDeepQuoteEvidence(e);
  ASSERT_THAT(json, IsOk());
  auto back = ParseDeepQuoteEvidence(*json);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->statement.statement, e.statement.statement);
  EXPECT_EQ(back->statement.signature, e.statement.signature);
  EXPECT_EQ(back->statement.master_certificate, e.statement.master_certificate);
  EXPECT_EQ(back->quote.attest, e.quote.attest);
  EXPECT_EQ(back->quote.pcrs, e.quote.pcrs);
  EXPECT_THAT(Verify(*back), IsOk());
}

class EvidenceParseTest : public DeepQuoteTest {
 protected:
  void SetUp() override {
    DeepQuoteTest::SetUp();
    auto json = EncodeDeepQuoteEvidence(Evidence());
    ASSERT_THAT(json, IsOk());
    json_ = *json;
  }
  // `json_` with `from` replaced by `to` (once).
  std::string Edit(const std::string& from, const std::string& to) const {
    std::string out = json_;
    std::size_t at = out.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) out.replace(at, from.size(), to);
    return out;
  }
  std::string json_;
};

TEST_F(EvidenceParseTest, TruncatedEvidence) {
  EXPECT_THAT(ParseDeepQuoteEvidence(json_.substr(0, json_.size() / 2)),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: not JSON (truncated?)"));
  EXPECT_THAT(ParseDeepQuoteEvidence(""),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: not JSON (truncated?)"));
}

TEST_F(EvidenceParseTest, OversizedEvidence) {
  EXPECT_THAT(
      ParseDeepQuoteEvidence(json_ + std::string(kMaxDeepQuoteEvidence, ' ')),
      StatusIs(ErrorCode::kInvalidArgument,
               HasSubstr("bytes exceed the maximum of 65536")));
  EXPECT_THAT(ParseDeepQuoteEvidence(std::string(5, '[')),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: nested deeper than 4 levels"));
  EXPECT_THAT(
      ParseDeepQuoteEvidence(
          Edit("\"vm\": \"web1\"", "\"vm\": \"" + std::string(65, 'w') + "\"")),
      StatusIs(ErrorCode::kInvalidArgument,
               "deep-quote evidence: statement.vm: 65 characters exceed the "
               "maximum of 64"));
}

TEST_F(EvidenceParseTest, InconsistentEvidence) {
  EXPECT_THAT(ParseDeepQuoteEvidence(
                  Edit("\"vm\": \"web1\"", "\"vm\": \"web1\", \"x\": 1")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.x: unknown field"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"vm\": \"web1\",", "")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.vm: missing"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"vm\": \"web1\"", "\"vm\": 1")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.vm: not a string"));
  EXPECT_THAT(
      ParseDeepQuoteEvidence(Edit("\"vm\": \"web1\"", "\"vm\": \"../web1\"")),
      StatusIs(ErrorCode::kInvalidArgument,
               "deep-quote evidence: statement.vm: not a valid name "
               "(1-64 of [A-Za-z0-9._-])"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"host_state\": \"member\"",
                                          "\"host_state\": \"gone\"")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.host_state: 'gone' is "
                       "neither member nor evicted"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"format\": \"tvd-deep-quote/1\"",
                                          "\"format\": \"v2\"")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: format: 'v2' is not "
                       "tvd-deep-quote/1"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"index\": 16", "\"index\": 0")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: quote.pcrs[1].index: PCR 0 after "
                       "0 (ascending, each once)"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"index\": 16", "\"index\": 24")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: quote.pcrs[1].index: 24 exceeds "
                       "23"));
  EXPECT_THAT(
      ParseDeepQuoteEvidence(Edit("\"issued_at\": ", "\"issued_at\": -")),
      StatusIs(ErrorCode::kInvalidArgument,
               HasSubstr("deep-quote evidence: statement.issued_at: "
                         "-")));
  EXPECT_THAT(ParseDeepQuoteEvidence("[]"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: not a JSON object"));
}

TEST_F(EvidenceParseTest, BadHex) {
  std::string nonce;
  for (int i = 0; i < 32; ++i) nonce += "5a";
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"nonce\": \"" + nonce,
                                          "\"nonce\": \"5A" + nonce.substr(2))),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.nonce: not a lower-case "
                       "hex digit 'A' at position 1"));
  EXPECT_THAT(ParseDeepQuoteEvidence(Edit("\"nonce\": \"" + nonce,
                                          "\"nonce\": \"" + nonce.substr(34))),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.nonce: nonce of 15 "
                       "bytes; it must be 16-64"));
  EXPECT_THAT(ParseDeepQuoteEvidence(
                  Edit("\"host_pcr_digest\": \"11", "\"host_pcr_digest\": \"")),
              StatusIs(ErrorCode::kInvalidArgument,
                       "deep-quote evidence: statement.host_pcr_digest: 31 "
                       "bytes, not 32"));
}

}  // namespace
}  // namespace tvd::attest
