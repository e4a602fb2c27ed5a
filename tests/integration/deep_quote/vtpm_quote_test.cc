// The guest quote tool against a real swtpm: the AK of vtpm_ak_template.h,
// PCR extend/read, a quote over a nonce that verifies with the shared quote
// checks, the static tool binary and the agent's answer to a request line,
// and the whole deep-quote chain with the vTPM's real EK and AK.
#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>

#include "tvd/attest/deep_quote.h"
#include "tvd/attest/quote_check.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/attest/vtpm_ak_template.h"
#include "tvd/guest_agent/agent.h"
#include "tvd/guest_agent/vtpm_client.h"
#include "tvd/hex.h"
#include "tvd/process.h"
#include "tvd/testing/files.h"
#include "tvd/testing/status_matchers.h"
#include "tvd/testing/swtpm.h"

namespace tvd::testing {
namespace {

using attest::GuestQuoteAnswer;

constexpr char kTool[] = TVD_BINARY_DIR "/guest-agent/tvd-guest-attest";

class VtpmQuoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sw = SwtpmInstance::Start();
    ASSERT_THAT(sw, IsOk());
    swtpm_ = std::move(*sw);
    spec_ = "tcp:127.0.0.1:" + std::to_string(swtpm_->port());
    nonce_.assign(32, 0);
    for (std::size_t i = 0; i < nonce_.size(); ++i) {
      nonce_[i] = static_cast<std::uint8_t>(i * 7 + 1);
    }
  }

  std::unique_ptr<guest_agent::VtpmClient> Client() {
    auto tpm = guest_agent::OpenTpm(spec_);
    EXPECT_THAT(tpm, IsOk());
    if (!tpm.ok()) return nullptr;
    return std::make_unique<guest_agent::VtpmClient>(std::move(*tpm));
  }

  // The checks a verifier makes of `a` with the AK it carries.
  static Status CheckAnswer(const GuestQuoteAnswer& a,
                            std::span<const std::uint8_t> nonce) {
    TVD_RETURN_IF_ERROR(attest::CheckAttestationKey(a.ak_public));
    TVD_ASSIGN_OR_RETURN(auto key, attest::PublicKeyFromTpm(a.ak_public));
    TVD_ASSIGN_OR_RETURN(TPMS_ATTEST q, attest::ParseQuoteAttest(a.attest));
    TVD_RETURN_IF_ERROR(attest::VerifyQuoteSignature(
        key.get(), a.attest, a.signature, "quote signature does not verify"));
    if (!attest::QuoteQualifies(q, nonce)) {
      return Unauthenticated("quote not over the nonce");
    }
    std::vector<std::uint32_t> wanted;
    std::vector<attest::PcrValue> values;
    for (const auto& p : a.pcrs) {
      wanted.push_back(p.index);
      attest::PcrValue v;
      v.index = p.index;
      std::copy(p.value.begin(), p.value.end(), v.value.begin());
      values.push_back(v);
    }
    return attest::CheckQuotedPcrs(q, wanted, values).status();
  }

  std::unique_ptr<SwtpmInstance> swtpm_;
  std::string spec_;
  std::vector<std::uint8_t> nonce_;
};

TEST_F(VtpmQuoteTest, AkComesFromTheSharedTemplateEveryTime) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  auto ak = client->AkPublic();
  ASSERT_THAT(ak, IsOk());
  auto again = client->AkPublic();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*ak, *again);
  EXPECT_THAT(attest::CheckAttestationKey(*ak), IsOk());
  TPM2B_PUBLIC pub{};
  size_t off = 0;
  ASSERT_EQ(Tss2_MU_TPM2B_PUBLIC_Unmarshal(ak->data(), ak->size(), &off, &pub),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(pub.publicArea.type, TPM2_ALG_ECC);
  EXPECT_EQ(pub.publicArea.objectAttributes, 0x00050072u);
  EXPECT_EQ(pub.publicArea.unique.ecc.x.size, 32);
}

TEST_F(VtpmQuoteTest, ExtendReadAndQuote) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  std::vector<std::uint32_t> pcr16 = {16};
  std::uint32_t counter = 0;
  auto before = client->ReadPcrs(pcr16, &counter);
  ASSERT_THAT(before, IsOk());
  attest::tpmwire::PcrDigest d{};
  d.fill(0xa5);
  ASSERT_THAT(client->Extend(16, d), IsOk());
  auto after = client->ReadPcrs(pcr16, nullptr);
  ASSERT_THAT(after, IsOk());
  std::vector<std::uint8_t> chain(64, 0);
  std::copy((*before)[0].value.begin(), (*before)[0].value.end(),
            chain.begin());
  std::copy(d.begin(), d.end(), chain.begin() + 32);
  EXPECT_EQ(Sha256(chain), (*after)[0].value);

  // More than the 8 digests a TPM returns per PCR_Read.
  std::vector<std::uint32_t> pcrs = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
  auto answer = client->Quote(nonce_, pcrs);
  ASSERT_THAT(answer, IsOk());
  ASSERT_EQ(answer->pcrs.size(), pcrs.size());
  EXPECT_EQ(answer->pcrs.back().value, (*after)[0].value);
  EXPECT_THAT(CheckAnswer(*answer, nonce_), IsOk());
  // The AK the quote carries is the one AkPublic reads.
  auto ak = client->AkPublic();
  ASSERT_THAT(ak, IsOk());
  EXPECT_EQ(answer->ak_public, *ak);
}

TEST_F(VtpmQuoteTest, TpmErrorsArriveWithTheirCode) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  // PCR 0 cannot be extended from locality 0? It can; PCR 17 cannot
  // (a DRTM PCR, locality 4 only).
  attest::tpmwire::PcrDigest d{};
  EXPECT_THAT(client->Extend(17, d),
              StatusIs(ErrorCode::kFailedPrecondition,
                       ::testing::StartsWith(
                           "TPM2_PCR_Extend failed: TPM response code 0x")));
}

TEST_F(VtpmQuoteTest, ToolBinaryExtendsAndQuotes) {
  ProcessOptions opts;
  opts.argv = {kTool, "--tpm", spec_, "extend", "16", std::string(64, 'c')};
  auto r = RunCommand(opts);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->exit_status, 0) << r->err;
  opts.argv = {kTool, "--tpm", spec_, "quote", ToHex(nonce_), "0,16"};
  r = RunCommand(opts);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->exit_status, 0) << r->err;
  auto answer = attest::ParseGuestQuoteAnswer(r->out);
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(CheckAnswer(*answer, nonce_), IsOk());

  opts.argv = {kTool, "--tpm", spec_, "quote", "abc", "16"};
  r = RunCommand(opts);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_status, 1);
  EXPECT_EQ(r->err, "tvd-guest-attest: odd number of hex digits (3)\n");
  opts.argv = {kTool, "--tpm", "tcp:127.0.0.1:1", "ak"};
  r = RunCommand(opts);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_status, 1);
  EXPECT_EQ(r->err,
            "tvd-guest-attest: cannot connect to TPM tcp:127.0.0.1:1: "
            "Connection refused\n");
}

TEST_F(VtpmQuoteTest, AgentAnswersRequestLines) {
  std::string line = "quote " + ToHex(nonce_) + " 16,23\n";
  auto answer = attest::ParseGuestQuoteAnswer(
      guest_agent::AnswerQuoteRequest(line, spec_));
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(CheckAnswer(*answer, nonce_), IsOk());
  EXPECT_EQ(guest_agent::AnswerQuoteRequest("quote 00 16\n", spec_),
            "error guest quote request: nonce of 1 bytes; it must be 16-64\n");
  EXPECT_EQ(guest_agent::AnswerQuoteRequest(line, "/dev/null"),
            "error TPM2_CreatePrimary response: truncated header (0 bytes)\n");
}

// The chain a tenant verifies, with the EK and AK of this real vTPM.
TEST_F(VtpmQuoteTest, DeepQuoteChainVerifies) {
  auto esys = swtpm_->Open();
  ASSERT_THAT(esys, IsOk());
  auto ek = (*esys)->EkPublic();
  ASSERT_THAT(ek, IsOk());
  esys->reset();  // swtpm serves one connection at a time

  auto client = Client();
  ASSERT_NE(client, nullptr);
  auto ak = client->AkPublic();
  ASSERT_THAT(ak, IsOk());
  attest::tpmwire::PcrDigest d{};
  d.fill(0x42);
  ASSERT_THAT(client->Extend(16, d), IsOk());
  std::vector<std::uint32_t> pcrs = {16};
  auto answer = client->Quote(nonce_, pcrs);
  ASSERT_THAT(answer, IsOk());

  auto ca = pki::CreateCa("vdc-test", pki::Validity::ForDays(1));
  ASSERT_THAT(ca, IsOk());
  auto master = pki::IssueCertificate(*ca, pki::Role::kHost, "tvd-master",
                                      pki::Validity::ForDays(1));
  ASSERT_THAT(master, IsOk());
  auto now = std::chrono::system_clock::now();
  attest::VtpmBinding binding{"blue", "web1", "node1",
                              *ek,    *ak,    attest::ToUnixSeconds(now) - 60};
  attest::HostAttestationSummary host;
  host.host = "node1";
  host.last_good = attest::ToUnixSeconds(now) - 10;
  auto statement =
      attest::IssueVtpmStatement(binding, host, nonce_, now, *master);
  ASSERT_THAT(statement, IsOk());
  attest::DeepQuoteEvidence evidence{*statement, *answer};
  auto json = attest::EncodeDeepQuoteEvidence(evidence);
  ASSERT_THAT(json, IsOk());
  // How tests/fuzz/deep_quote/evidence_corpus got its real evidence.
  if (const char* out = std::getenv("TVD_DEEP_QUOTE_EVIDENCE_OUT")) {
    WriteTestFile(out, *json);
  }
  auto parsed = attest::ParseDeepQuoteEvidence(*json);
  ASSERT_THAT(parsed, IsOk());
  attest::DeepQuoteExpectation want;
  want.tvd = "blue";
  want.vm = "web1";
  want.nonce = nonce_;
  auto verified = attest::VerifyDeepQuote(*parsed, ca->cert_pem, want, now);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(verified->statement.vtpm_ek_digest, Sha256(*ek));
  ASSERT_EQ(verified->pcrs.size(), 1u);
  // zeros || d, the extend's input.
  std::vector<std::uint8_t> chain(64, 0);
  std::copy(d.begin(), d.end(), chain.begin() + 32);
  EXPECT_EQ(verified->pcrs[0].value, Sha256(chain));
  // The same evidence for another TVD's tenant.
  want.tvd = "red";
  EXPECT_THAT(attest::VerifyDeepQuote(*parsed, ca->cert_pem, want, now),
              StatusIs(ErrorCode::kPermissionDenied,
                       "vTPM belongs to TVD blue, not red"));
}

}  // namespace
}  // namespace tvd::testing
