#include "tvd/attest/attester.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tvd/testing/software_tpm.h"
#include "tvd/attest/ima_log.h"

namespace tvd::attest {
namespace {

// IMA keeps measuring while the host answers: the log read after the quote
// may be longer than what PCR 10 held at quote time. Only the prefix that
// replays to the quoted value is sent.
// Removes the test's directory even when an assertion ends the test early.
class AttesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-attester-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(AttesterTest, SendsTheImaPrefixMatchingTheQuote) {
  std::string path = dir_ + "/ima";
  testing::SoftwareTpm tpm;
  ImaLine a = MakeImaNgLine("/a", Sha256("a"));
  ImaLine b = MakeImaNgLine("/b", Sha256("b"));
  tpm.Extend(10, a.template_sha256);
  std::ofstream(path) << a.text << "\n";
  bool measured = false;
  tpm.after_quote = [&] {
    if (measured) return;
    measured = true;
    tpm.Extend(10, b.template_sha256);
    std::ofstream(path, std::ios::app) << b.text << "\n";
  };
  Attester attester(&tpm, {path});
  AttestChallenge c;
  c.pcrs = {10};
  c.want_ima_log = true;
  std::array<std::uint8_t, 32> binding{};
  auto e = attester.Answer(c, binding);
  // The PCRs changed between quote and read: the attester retried and the
  // second quote (no further change) saw both entries.
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  tpm.after_quote = nullptr;
  EXPECT_EQ(e->ima_log, a.text + "\n" + b.text + "\n");

  // Now the log grows after a stable quote: the extra entry is cut.
  ImaLine c2 = MakeImaNgLine("/c", Sha256("c"));
  std::ofstream(path, std::ios::app) << c2.text << "\n";
  auto e2 = attester.Answer(c, binding);
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(e2->ima_log, a.text + "\n" + b.text + "\n");
}

TEST_F(AttesterTest, MissingImaLogIsAnError) {
  testing::SoftwareTpm tpm;
  Attester attester(&tpm, {"/nonexistent/ima"});
  AttestChallenge c;
  c.pcrs = {10};
  c.want_ima_log = true;
  EXPECT_EQ(attester.Answer(c, std::array<std::uint8_t, 32>{}).status(),
            IoError("IMA log: cannot open /nonexistent/ima: No such file or "
                    "directory"));
}

}  // namespace
}  // namespace tvd::attest
