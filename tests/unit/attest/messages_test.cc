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

namespace tvd::attest {
namespace {

TEST(MessagesTest, ChallengeCarriesTheIncrementalStart) {
  AttestChallenge c;
  c.pcrs = {10};
  c.want_ima_log = true;
  c.ima_from = 100000;
  c.ima_pcr10 = Sha256("kept");
  auto back = DecodeAttestChallenge(Encode(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ima_from, 100000u);
  EXPECT_EQ(back->ima_pcr10, c.ima_pcr10);
  EXPECT_EQ(back->full_log_reason, "");

  AttestChallenge full;
  full.want_ima_log = true;
  full.full_log_reason = "TPM reset count changed (3 -> 4)";
  back = DecodeAttestChallenge(Encode(full));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ima_from, 0u);
  EXPECT_EQ(back->full_log_reason, full.full_log_reason);

  AttestChallenge no_log = c;
  no_log.want_ima_log = false;
  EXPECT_EQ(DecodeAttestChallenge(Encode(no_log)).status(),
            ProtocolError("challenge sets ima_from but asks for no IMA log"));
  AttestChallenge both = c;
  both.full_log_reason = "x";
  EXPECT_EQ(DecodeAttestChallenge(Encode(both)).status(),
            ProtocolError("a challenge asking for the whole IMA log must ask "
                          "for the log from entry 0"));
}

TEST(MessagesTest, LargeImaLogTravelsInChunkFrames) {
  Evidence e;
  e.nonce.fill(1);
  e.ima_offset = 0;
  e.ima_entries = 12345;
  e.ima_log.assign(2 * kImaChunk + 100, 'x');
  auto frames = EncodeEvidenceFrames(e);
  ASSERT_TRUE(frames.ok()) << frames.status().ToString();
  ASSERT_EQ(frames->size(), 3u);
  EXPECT_EQ((*frames)[1].size(), kImaChunk);
  EXPECT_EQ((*frames)[2].size(), 100u);
  auto back = DecodeEvidence((*frames)[0]);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ima_entries, 12345u);
  EXPECT_EQ(back->ima_log.size(), kImaChunk);
  EXPECT_EQ(back->ima_log_pending, kImaChunk + 100);
  ASSERT_EQ(AppendImaChunk(*back, (*frames)[1]), Status::Ok());
  EXPECT_EQ(AppendImaChunk(*back, (*frames)[1]),
            ProtocolError("IMA log chunk of 983040 bytes but only 100 bytes "
                          "were announced"));
  EXPECT_EQ(AppendImaChunk(*back, {}), ProtocolError("empty IMA log chunk"));
  ASSERT_EQ(AppendImaChunk(*back, (*frames)[2]), Status::Ok());
  EXPECT_EQ(back->ima_log_pending, 0u);
  EXPECT_EQ(back->ima_log, e.ima_log);

  // A small log stays in one frame.
  Evidence small = e;
  small.ima_log = "10 x\n";
  frames = EncodeEvidenceFrames(small);
  ASSERT_TRUE(frames.ok());
  EXPECT_EQ(frames->size(), 1u);
  EXPECT_EQ((*frames)[0], Encode(small));
}

TEST(MessagesTest, OversizedImaLogIsRefusedOnBothEnds) {
  Evidence e;
  e.ima_log.assign(kMaxImaLog + 1, 'x');
  EXPECT_EQ(EncodeEvidenceFrames(e).status(),
            InvalidArgument("IMA log of 33554433 bytes exceeds the maximum of "
                            "33554432 bytes"));
  // A head announcing more than the maximum is refused before any chunk.
  e.ima_log.assign(kImaChunk + 1, 'x');
  auto frames = EncodeEvidenceFrames(e);
  ASSERT_TRUE(frames.ok());
  std::vector<std::uint8_t> head = (*frames)[0];
  // ima_log_size: the u64 before the inline log's u32 length and bytes.
  std::size_t at = head.size() - kImaChunk - 4 - 8;
  std::uint64_t huge = std::uint64_t{kMaxImaLog} + 1;
  for (int i = 0; i < 8; ++i)
    head[at + i] = static_cast<std::uint8_t>(huge >> (56 - 8 * i));
  EXPECT_EQ(DecodeEvidence(head).status(),
            ProtocolError("IMA log of 33554433 bytes exceeds the maximum of "
                          "33554432 bytes"));
  Evidence wrong;
  wrong.ima_offset = 7;
  wrong.ima_entries = 3;
  EXPECT_EQ(DecodeEvidence(Encode(wrong)).status(),
            ProtocolError("evidence starts its IMA log at entry 7 but counts "
                          "only 3 entries"));
}

TEST(MessagesTest, EventLogIsOnTheWireOnlyWhenUsed) {
  // Without it, challenge and evidence encode as before: no trailing field.
  AttestChallenge c;
  c.nonce.fill(3);
  c.pcrs = {0, 7};
  std::vector<std::uint8_t> plain = Encode(c);
  c.want_event_log = true;
  std::vector<std::uint8_t> with = Encode(c);
  ASSERT_EQ(with.size(), plain.size() + 1);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), with.begin()));
  auto back = DecodeAttestChallenge(with);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->want_event_log);
  back = DecodeAttestChallenge(plain);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->want_event_log);
  with.back() = 0;
  EXPECT_EQ(DecodeAttestChallenge(with).status(),
            ProtocolError("field 'want_event_log' is on the wire but 0"));
  with.back() = 2;
  EXPECT_EQ(DecodeAttestChallenge(with).status(),
            ProtocolError("field 'want_event_log' is not 0 or 1"));

  Evidence e;
  e.nonce.fill(4);
  e.ima_log = "10 x\n";
  plain = Encode(e);
  e.event_log = {1, 2, 3};
  with = Encode(e);
  ASSERT_EQ(with.size(), plain.size() + 4 + 3);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), with.begin()));
  auto ev = DecodeEvidence(with);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->event_log, e.event_log);
  EXPECT_EQ(ev->ima_log, e.ima_log);
  ev = DecodeEvidence(plain);
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(ev->event_log.empty());
  // An empty event log written out anyway.
  plain.insert(plain.end(), 4, 0);
  EXPECT_EQ(DecodeEvidence(plain).status(),
            ProtocolError("evidence's event log is on the wire but empty"));
}

TEST(MessagesTest, EventLogShrinksTheFirstImaPart) {
  Evidence e;
  e.ima_log.assign(kImaChunk + 100, 'x');
  e.event_log.assign(kMaxEventLogWire, 0xee);
  auto frames = EncodeEvidenceFrames(e);
  ASSERT_TRUE(frames.ok()) << frames.status().ToString();
  // Both logs fit the first frame's former budget.
  EXPECT_LT((*frames)[0].size(), kImaChunk + 4096);
  auto back = DecodeEvidence((*frames)[0]);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->event_log, e.event_log);
  EXPECT_EQ(back->ima_log.size(), kImaChunk - kMaxEventLogWire);
  for (std::size_t i = 1; i < frames->size(); ++i) {
    ASSERT_EQ(AppendImaChunk(*back, (*frames)[i]), Status::Ok());
  }
  EXPECT_EQ(back->ima_log, e.ima_log);

  e.event_log.push_back(0);
  EXPECT_EQ(EncodeEvidenceFrames(e).status(),
            InvalidArgument("event log of 524289 bytes exceeds the maximum of "
                            "524288 bytes"));
  // Encode() writes what it is given; the decoder refuses it.
  e.ima_log = "";
  EXPECT_EQ(DecodeEvidence(Encode(e)).status(),
            ProtocolError("field 'event_log' has 524289 bytes, more than the "
                          "maximum 524288"));
}

}  // namespace
}  // namespace tvd::attest
