// The guest quote lines: round trips, and every refusal with its reason.
#include "tvd/attest/guest_quote.h"

#include <gtest/gtest.h>

#include "tvd/testing/status_matchers.h"

namespace tvd::attest {
namespace {

using tvd::testing::IsOk;
using tvd::testing::StatusIs;

GuestQuoteAnswer Answer() {
  GuestQuoteAnswer a;
  a.ak_public = {0x00, 0x02, 0xaa, 0xbb};
  a.attest = {0xff, 0x54, 0x43, 0x47};
  a.signature = {0x00, 0x18, 0x00, 0x0b};
  GuestPcr p;
  p.index = 0;
  a.pcrs.push_back(p);
  p.index = 16;
  p.value.fill(0xee);
  a.pcrs.push_back(p);
  return a;
}

TEST(GuestQuoteTest, RequestRoundTrip) {
  GuestQuoteRequest r{std::vector<std::uint8_t>(32, 0xab), {0, 7, 16}};
  auto line = FormatGuestQuoteRequest(r);
  ASSERT_THAT(line, IsOk());
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(*line, "quote " + hex + " 0,7,16\n");
  auto back = ParseGuestQuoteRequest(*line);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->nonce, r.nonce);
  EXPECT_EQ(back->pcrs, r.pcrs);
}

TEST(GuestQuoteTest, RequestRefusals) {
  const std::string nonce(32, 'a');
  EXPECT_THAT(ParseGuestQuoteRequest("quote " + nonce + " 16"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: line does not end with a newline "
                       "(truncated?)"));
  EXPECT_THAT(ParseGuestQuoteRequest("quote " + nonce + "  16\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: expected 'quote <nonce hex> "
                       "<pcr list>'"));
  EXPECT_THAT(ParseGuestQuoteRequest("quote abc 16\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: nonce: odd number of hex digits "
                       "(3)"));
  EXPECT_THAT(ParseGuestQuoteRequest("quote abcd 16\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: nonce of 2 bytes; it must be "
                       "16-64"));
  EXPECT_THAT(
      ParseGuestQuoteRequest("quote " + std::string(130, 'a') + " 16\n"),
      StatusIs(ErrorCode::kInvalidArgument,
               "guest quote request: nonce of 65 bytes; it must be "
               "16-64"));
  // Regression (guest_quote_fuzzer): 129 digits were counted as 64 bytes
  // and the parser returned an OK status as an error.
  EXPECT_THAT(
      ParseGuestQuoteRequest("quote " + std::string(129, 'a') + " 16\n"),
      StatusIs(ErrorCode::kInvalidArgument,
               "guest quote request: nonce of 65 bytes; it must be "
               "16-64"));
  EXPECT_THAT(ParseGuestQuoteRequest("quote " + nonce + " 16,7\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: PCR list '16,7': PCR 7 after 16 "
                       "(ascending, each once)"));
  EXPECT_THAT(ParseGuestQuoteRequest("quote " + nonce + " 24\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: PCR list '24': '24' is not a PCR "
                       "0-23"));
  EXPECT_THAT(ParseGuestQuoteRequest("quote " + nonce + " 1\t\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote request: control or non-ASCII byte at "
                       "position 40"));
  EXPECT_THAT(
      ParseGuestQuoteRequest(std::string(kMaxGuestLine + 1, 'a')),
      StatusIs(ErrorCode::kInvalidArgument,
               "guest quote request: line of 32769 bytes exceeds the maximum "
               "of 32768"));
}

TEST(GuestQuoteTest, AnswerRoundTrip) {
  auto line = FormatGuestQuoteAnswer(Answer());
  ASSERT_THAT(line, IsOk());
  EXPECT_EQ(*line, "ok 0002aabb ff544347 0018000b 0=" + std::string(64, '0') +
                       ",16=" + std::string(64, 'e') + "\n");
  auto back = ParseGuestQuoteAnswer(*line);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->ak_public, Answer().ak_public);
  EXPECT_EQ(back->attest, Answer().attest);
  EXPECT_EQ(back->signature, Answer().signature);
  EXPECT_EQ(back->pcrs, Answer().pcrs);
}

TEST(GuestQuoteTest, AnswerRefusals) {
  EXPECT_THAT(ParseGuestQuoteAnswer("error no TPM\n"),
              StatusIs(ErrorCode::kFailedPrecondition, "guest agent: no TPM"));
  EXPECT_THAT(ParseGuestQuoteAnswer("ok 00 11 22\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote answer: expected 'ok <AK public> <attest> "
                       "<signature> <pcr>=<value>,...' or 'error <text>'"));
  EXPECT_THAT(
      ParseGuestQuoteAnswer("ok 0A 11 22 0=" + std::string(64, '0') + "\n"),
      StatusIs(ErrorCode::kInvalidArgument,
               "guest quote answer: AK public: not a lower-case hex "
               "digit 'A' at position 1"));
  EXPECT_THAT(ParseGuestQuoteAnswer("ok 00 " + std::string(8194, '1') +
                                    " 22 0=" + std::string(64, '0') + "\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote answer: attest of 4097 bytes exceeds the "
                       "maximum of 4096"));
  EXPECT_THAT(
      ParseGuestQuoteAnswer("ok 00 11 22 0=" + std::string(62, '0') + "\n"),
      StatusIs(ErrorCode::kInvalidArgument,
               "guest quote answer: value of PCR 0 is not 64 "
               "lower-case hex digits"));
  EXPECT_THAT(ParseGuestQuoteAnswer("ok 00 11 22 5=" + std::string(64, '0') +
                                    ",5=" + std::string(64, '0') + "\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote answer: PCR 5 after 5 (ascending, each "
                       "once)"));
  EXPECT_THAT(ParseGuestQuoteAnswer("ok 00 11 22 5\n"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "guest quote answer: PCR value '5' is not <pcr>=<sha256 "
                       "hex>"));
  EXPECT_THAT(
      ParseGuestQuoteAnswer("ok  11 22 5=" + std::string(64, '0') + "\n"),
      StatusIs(ErrorCode::kInvalidArgument,
               "guest quote answer: AK public is empty"));
}

TEST(GuestQuoteTest, ErrorLinesAreCleanedAndCut) {
  EXPECT_EQ(FormatGuestQuoteError("bad\nline\x01"), "error bad?line?\n");
  std::string line = FormatGuestQuoteError(std::string(600, 'x'));
  EXPECT_EQ(line.size(), 6u + kMaxGuestError + 1);
  EXPECT_THAT(ParseGuestQuoteAnswer(line),
              StatusIs(ErrorCode::kFailedPrecondition,
                       "guest agent: " + std::string(kMaxGuestError, 'x')));
}

TEST(GuestQuoteTest, PcrLists) {
  auto l = ParsePcrList("0,1,23");
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ(FormatPcrList(*l), "0,1,23");
  EXPECT_THAT(ParsePcrList(""), StatusIs(ErrorCode::kInvalidArgument,
                                         "PCR list '': '' is not a PCR 0-23"));
  EXPECT_THAT(ParsePcrList("07"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "PCR list '07': '07' is not a PCR 0-23"));
  EXPECT_THAT(ParsePcrList("1,,2"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "PCR list '1,,2': '' is not a PCR 0-23"));
}

}  // namespace
}  // namespace tvd::attest
