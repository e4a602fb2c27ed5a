// `tvdctl vm attest`: saved evidence verified against the CA file, the
// printed chain, the JSON, and each failure's exit code and message.
#include "tvd/tvdctl/vm_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tvd/hex.h"
#include "tvd/testing/files.h"
#include "tvd/testing/software_tpm.h"
#include "tvd/testing/temp_dir.h"
#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {
namespace {

using ::testing::HasSubstr;

class VmAttestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = pki::CreateCa("vdc-test", pki::Validity::ForDays(1));
    ASSERT_TRUE(ca.ok());
    auto master = pki::IssueCertificate(*ca, pki::Role::kHost, "tvd-master",
                                        pki::Validity::ForDays(1));
    ASSERT_TRUE(master.ok());
    testing::WriteTestFile(dir_.File("ca.pem"), ca->cert_pem);
    Sha256Digest d{};
    d.fill(0x31);
    tpm_.Extend(16, d);
    nonce_.fill(0x6b);
    auto ak = tpm_.AkPublic();
    ASSERT_TRUE(ak.ok());
    auto now = std::chrono::system_clock::now();
    attest::VtpmBinding binding{"blue",  "web1",
                                "node1", {0x00, 0x01, 0x07},
                                *ak,     attest::ToUnixSeconds(now) - 100};
    attest::HostAttestationSummary host;
    host.host = "node1";
    host.last_good = attest::ToUnixSeconds(now) - 20;
    auto statement =
        attest::IssueVtpmStatement(binding, host, nonce_, now, *master);
    ASSERT_TRUE(statement.ok()) << statement.status();
    std::vector<std::uint32_t> pcrs = {16};
    auto quote = tpm_.Quote(pcrs, nonce_);
    auto values = tpm_.ReadPcrs(pcrs);
    ASSERT_TRUE(quote.ok() && values.ok());
    attest::DeepQuoteEvidence e;
    e.statement = *statement;
    e.quote.ak_public = *ak;
    e.quote.attest = quote->attest;
    e.quote.signature = quote->signature;
    attest::GuestPcr p;
    p.index = 16;
    std::copy((*values)[0].value.begin(), (*values)[0].value.end(),
              p.value.begin());
    pcr16_ = ToHex(p.value);
    e.quote.pcrs.push_back(p);
    auto json = attest::EncodeDeepQuoteEvidence(e);
    ASSERT_TRUE(json.ok());
    json_ = *json;
    testing::WriteTestFile(dir_.File("evidence.json"), json_);
  }

  int Run(std::vector<std::string> extra) {
    std::vector<std::string> args = {"vm",         "attest",
                                     "--evidence", dir_.File("evidence.json"),
                                     "--ca",       dir_.File("ca.pem")};
    args.insert(args.end(), extra.begin(), extra.end());
    out_.str("");
    err_.str("");
    return RunTvdctl(args, out_, err_);
  }

  testing::TempDir dir_{"vm-attest"};
  attest::testing::SoftwareTpm tpm_;
  Sha256Digest nonce_{};
  std::string json_;
  std::string pcr16_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(VmAttestTest, PrintsTheVerifiedChain) {
  ASSERT_EQ(Run({"--tvd", "blue", "--vm", "web1", "--nonce", ToHex(nonce_)}),
            kExitOk)
      << err_.str();
  std::string text = out_.str();
  EXPECT_THAT(text, HasSubstr("deep quote verified: VM web1 of TVD blue\n"));
  EXPECT_THAT(text, HasSubstr("  master        host:tvd-master, certificate "
                              "of the VDC CA\n"));
  EXPECT_THAT(text, HasSubstr("  host          node1 (member)\n"));
  EXPECT_THAT(text, HasSubstr(" s before the statement)\n"));
  EXPECT_THAT(text, HasSubstr("(the one asked for)"));
  EXPECT_THAT(text, HasSubstr("  PCR 16        " + pcr16_ + "\n"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(VmAttestTest, JsonIsTheEvidence) {
  ASSERT_EQ(Run({"--tvd", "blue", "--vm", "web1", "--json"}), kExitOk);
  EXPECT_EQ(out_.str(), json_);
}

TEST_F(VmAttestTest, WrongTvdFailsWithTheReason) {
  EXPECT_EQ(Run({"--tvd", "red", "--vm", "web1"}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "tvdctl vm attest: vTPM belongs to TVD blue, not red\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(VmAttestTest, TruncatedEvidenceFails) {
  testing::WriteTestFile(dir_.File("evidence.json"),
                         json_.substr(0, json_.size() - 10));
  EXPECT_EQ(Run({"--tvd", "blue", "--vm", "web1"}), kExitFailure);
  EXPECT_EQ(err_.str(), "tvdctl vm attest: " + dir_.File("evidence.json") +
                            ": deep-quote evidence: not JSON (truncated?)\n");
}

TEST_F(VmAttestTest, UsageErrors) {
  EXPECT_EQ(Run({"--tvd", "blue"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--evidence, --ca, --tvd and --vm are "
                                    "required"));
  EXPECT_EQ(Run({"--tvd", "blue", "--vm", "web1", "--max-age", "0"}),
            kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--max-age '0' is not a number of "
                                    "seconds"));
  EXPECT_EQ(Run({"--tvd", "blue", "--vm", "web1", "--master", "[::1]:1"}),
            kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--master, --cert, --key, --pcrs and "
                                    "--save belong to the online form"));
}

TEST_F(VmAttestTest, OnlineFormUsageErrors) {
  std::ostringstream out, err;
  auto run = [&](std::vector<std::string> args) {
    out.str("");
    err.str("");
    args.insert(args.begin(), {"vm", "attest"});
    return RunTvdctl(args, out, err);
  };
  EXPECT_EQ(run({"blue", "web1"}), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("--master, --ca, --cert and --key (the "
                                   "tenant certificate) are required"));
  EXPECT_EQ(run({"blue"}), kExitUsage);
  EXPECT_THAT(err.str(),
              HasSubstr("the online form takes TVD and VM, got 1 operands"));
  EXPECT_EQ(run({"blue", "web1", "--nonce", "00"}), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("the online form draws its own nonce"));
  const std::string ca = dir_.File("ca.pem");
  EXPECT_EQ(run({"blue", "web1", "--master", "127.0.0.1:1", "--ca", ca,
                 "--cert", ca, "--key", ca, "--pcrs", "7,3"}),
            kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("tvdctl vm attest: --pcrs: PCR list "
                                   "'7,3': "));
  EXPECT_EQ(run({"blue", "web1", "--master", "nowhere", "--ca", ca, "--cert",
                 ca, "--key", ca}),
            kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("tvdctl vm attest: --master: "));
}

}  // namespace
}  // namespace tvd::tvdctl
