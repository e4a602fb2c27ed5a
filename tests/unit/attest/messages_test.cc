#include "tvd/attest/messages.h"

#include <gtest/gtest.h>

namespace tvd::attest {
namespace {

TEST(MessagesTest, EvidenceRoundTrips) {
  Evidence e;
  e.nonce.fill(7);
  e.ak_public = {0, 2, 9, 9};
  e.quote.attest = {1, 2, 3};
  e.quote.signature = {4, 5};
  e.pcrs = {{0, Sha256("a")}, {10, Sha256("b")}};
  e.ima_log = "10 x\n";
  auto bytes = Encode(e);
  auto back = DecodeEvidence(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->nonce, e.nonce);
  EXPECT_EQ(back->ak_public, e.ak_public);
  EXPECT_EQ(back->quote.attest, e.quote.attest);
  EXPECT_EQ(back->pcrs, e.pcrs);
  EXPECT_EQ(back->ima_log, e.ima_log);
  bytes.push_back(0);
  EXPECT_EQ(DecodeEvidence(bytes).status(),
            ProtocolError("1 unexpected trailing bytes in evidence"));
  bytes.resize(1 + 4 + 32 + 2);  // inside ak_public's length
  EXPECT_EQ(DecodeEvidence(bytes).status(),
            ProtocolError("message truncated in field 'ak_public'"));
}

TEST(MessagesTest, ChallengeRefusesBadPcrs) {
  AttestChallenge c;
  c.pcrs = {0, 7, 10};
  c.want_ima_log = true;
  auto bytes = Encode(c);
  auto back = DecodeAttestChallenge(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pcrs, c.pcrs);
  EXPECT_TRUE(back->want_ima_log);
  bytes[4 + 32 + 1] = 24;  // first PCR index
  EXPECT_EQ(DecodeAttestChallenge(bytes).status(),
            ProtocolError("PCR index 24 out of range"));
}

}  // namespace
}  // namespace tvd::attest
