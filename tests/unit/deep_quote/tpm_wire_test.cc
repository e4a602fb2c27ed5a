// The raw TPM commands byte for byte, and every refusal of the response
// parsers with its exact reason.
#include "tvd/attest/tpm_wire.h"

#include <gtest/gtest.h>

#include "tvd/attest/vtpm_ak_template.h"
#include "tvd/testing/status_matchers.h"

namespace tvd::attest::tpmwire {
namespace {

using Bytes = std::vector<std::uint8_t>;
using tvd::testing::IsOk;
using tvd::testing::StatusIs;

// Builds a response: header with the right size, then the body.
class Rsp {
 public:
  Rsp& U8(std::uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Rsp& U16(std::uint16_t v) { return U8(v >> 8).U8(v & 0xff); }
  Rsp& U32(std::uint32_t v) { return U16(v >> 16).U16(v & 0xffff); }
  Rsp& Sized(const Bytes& v) {
    U16(static_cast<std::uint16_t>(v.size()));
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Rsp& Auth() { return U16(0).U8(1).U16(0); }
  Bytes Build(std::uint16_t tag, std::uint32_t rc = 0) const {
    Rsp h;
    h.U16(tag).U32(static_cast<std::uint32_t>(10 + b_.size())).U32(rc);
    h.b_.insert(h.b_.end(), b_.begin(), b_.end());
    return h.b_;
  }

 private:
  Bytes b_;
};

// `a` then `b`, one byte at a time: gcc 12 warns falsely (array-bounds)
// about vector::insert of a short constant range into a short vector.
Bytes Cat(Bytes a, std::span<const std::uint8_t> b) {
  for (std::uint8_t x : b) a.push_back(x);
  return a;
}

const Bytes kPublic = {0x00, 0x23, 0x00, 0x0b, 0xaa, 0xbb};

Bytes CreatePrimaryOk(std::uint32_t param_size_delta = 0) {
  Rsp r;
  r.U32(0x80000000);
  std::uint32_t params = 2 + 6 + 2 + 2 + 2 + 4 + 2 + 2 + 2;
  r.U32(params + param_size_delta);
  r.Sized(kPublic)
      .Sized({})
      .Sized({})
      .U16(0x8021)
      .U32(0x4000000b)
      .Sized({})
      .Sized({0xab, 0xcd});
  r.Auth();
  return r.Build(0x8002);
}

TEST(TpmWireTest, CreatePrimaryCommandIsExact) {
  Bytes cmd = CreatePrimaryCommand(kVtpmAkHierarchy, kVtpmAkTemplatePublic);
  Bytes want = {0x80, 0x02, 0x00, 0x00, 0x00, 65,   0x00, 0x00, 0x01,
                0x31, 0x40, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x09,
                0x40, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x04, 0x00, 0x00, 0x00, 0x00};
  want = Cat(want, kVtpmAkTemplatePublic);
  Bytes tail = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  want = Cat(want, tail);
  EXPECT_EQ(cmd, want);
}

TEST(TpmWireTest, ParsesCreatePrimary) {
  auto r = ParseCreatePrimaryResponse(CreatePrimaryOk());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->handle, 0x80000000u);
  Bytes want = {0x00, 0x06};
  want = Cat(want, kPublic);
  EXPECT_EQ(r->public_area, want);
}

TEST(TpmWireTest, TpmErrorNamesTheCode) {
  Bytes rsp = Rsp().Build(0x8001, 0x98e);
  EXPECT_THAT(ParseCreatePrimaryResponse(rsp),
              StatusIs(ErrorCode::kFailedPrecondition,
                       "TPM2_CreatePrimary failed: TPM response code 0x98e"));
}

TEST(TpmWireTest, RefusesTruncatedHeader) {
  EXPECT_THAT(ParseFlushContextResponse(Bytes{0x80, 0x01, 0x00}),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_FlushContext response: truncated header (3 "
                       "bytes)"));
}

TEST(TpmWireTest, RefusesSizeMismatch) {
  Bytes rsp = CreatePrimaryOk();
  rsp.pop_back();
  EXPECT_THAT(ParseCreatePrimaryResponse(rsp),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_CreatePrimary response: header says 47 bytes but "
                       "46 arrived"));
}

TEST(TpmWireTest, RefusesOversizedResponse) {
  Bytes rsp(kMaxTpmResponse + 1);
  EXPECT_THAT(ParseQuoteResponse(rsp),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_Quote response: 4097 bytes exceed the maximum of "
                       "4096"));
}

TEST(TpmWireTest, RefusesParameterSizeThatDisagrees) {
  EXPECT_THAT(ParseCreatePrimaryResponse(CreatePrimaryOk(2)),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_CreatePrimary response: parameters use 24 bytes "
                       "but parameterSize says 26"));
  EXPECT_THAT(ParseCreatePrimaryResponse(CreatePrimaryOk(100)),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_CreatePrimary response: parameterSize 124 "
                       "overruns the 29 bytes left"));
}

TEST(TpmWireTest, RefusesWrongTag) {
  Bytes rsp = Rsp().Build(0x8002);
  EXPECT_THAT(ParseFlushContextResponse(rsp),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_FlushContext response: tag 0x8002 where 0x8001 "
                       "was expected"));
}

TEST(TpmWireTest, RefusesLeftOverBytes) {
  Bytes rsp = Rsp().U8(7).Build(0x8001);
  EXPECT_THAT(ParseFlushContextResponse(rsp),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_FlushContext response: 1 bytes left over after "
                       "the last field"));
}

TEST(TpmWireTest, PcrExtendCommandIsExact) {
  PcrDigest d{};
  d.fill(0x11);
  auto cmd = PcrExtendCommand(16, d);
  ASSERT_THAT(cmd, IsOk());
  Bytes want = {0x80, 0x02, 0x00, 0x00, 0x00, 65,   0x00, 0x00, 0x01,
                0x82, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x09,
                0x40, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x01, 0x00, 0x0b};
  want = Cat(want, d);
  EXPECT_EQ(*cmd, want);
  EXPECT_THAT(PcrExtendCommand(24, d), StatusIs(ErrorCode::kInvalidArgument,
                                                "PCR 24 out of range 0-23"));
  EXPECT_THAT(ParsePcrExtendResponse(Rsp().U32(0).Auth().Build(0x8002)),
              IsOk());
}

TEST(TpmWireTest, PcrReadRoundTrip) {
  std::vector<std::uint32_t> pcrs = {0, 16, 23};
  auto cmd = PcrReadCommand(pcrs);
  ASSERT_THAT(cmd, IsOk());
  Bytes want = {0x80, 0x01, 0x00, 0x00, 0x00, 20,   0x00, 0x00, 0x01, 0x7e,
                0x00, 0x00, 0x00, 0x01, 0x00, 0x0b, 0x03, 0x01, 0x00, 0x81};
  EXPECT_EQ(*cmd, want);
  Bytes v1(32, 0x01), v2(32, 0x02);
  Bytes rsp = Rsp()
                  .U32(7)
                  .U32(1)
                  .U16(0x000b)
                  .U8(3)
                  .U8(0x01)
                  .U8(0x00)
                  .U8(0x01)
                  .U32(2)
                  .Sized(v1)
                  .Sized(v2)
                  .Build(0x8001);
  auto r = ParsePcrReadResponse(rsp);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->update_counter, 7u);
  EXPECT_EQ(r->pcrs, (std::vector<std::uint32_t>{0, 16}));
  ASSERT_EQ(r->values.size(), 2u);
  EXPECT_EQ(r->values[1][0], 0x02);
}

TEST(TpmWireTest, PcrReadRefusesInconsistentCounts) {
  Bytes v1(32, 0x01);
  Bytes rsp = Rsp()
                  .U32(7)
                  .U32(1)
                  .U16(0x000b)
                  .U8(3)
                  .U8(0x03)
                  .U8(0)
                  .U8(0)
                  .U32(1)
                  .Sized(v1)
                  .Build(0x8001);
  EXPECT_THAT(ParsePcrReadResponse(rsp),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_PCR_Read response: 1 digests for 2 selected "
                       "PCRs"));
  Bytes sha1 = Rsp().U32(7).U32(1).U16(0x0004).Build(0x8001);
  EXPECT_THAT(ParsePcrReadResponse(sha1),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_PCR_Read response: selection of bank 0x004, not "
                       "SHA-256"));
  Bytes short_digest = Rsp()
                           .U32(7)
                           .U32(1)
                           .U16(0x000b)
                           .U8(3)
                           .U8(0x01)
                           .U8(0)
                           .U8(0)
                           .U32(1)
                           .Sized(Bytes(20, 0))
                           .Build(0x8001);
  EXPECT_THAT(ParsePcrReadResponse(short_digest),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_PCR_Read response: digest of PCR 0 is 20 bytes, "
                       "not 32"));
  EXPECT_THAT(PcrReadCommand({}),
              StatusIs(ErrorCode::kInvalidArgument, "no PCR selected"));
}

TEST(TpmWireTest, QuoteRoundTrip) {
  Bytes nonce(32, 0x5a);
  std::vector<std::uint32_t> pcrs = {16};
  auto cmd = QuoteCommand(0x80000001, nonce, pcrs);
  ASSERT_THAT(cmd, IsOk());
  EXPECT_EQ(cmd->size(), 10u + 4 + 13 + 2 + 32 + 2 + 10);
  Bytes attest = {0xff, 0x54, 0x43, 0x47};
  Bytes r(32, 1), s(32, 2);
  Rsp body;
  body.U32(2 + 4 + 2 + 2 + 34 + 34)
      .Sized(attest)
      .U16(0x0018)
      .U16(0x000b)
      .Sized(r)
      .Sized(s)
      .Auth();
  auto q = ParseQuoteResponse(body.Build(0x8002));
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->attest, attest);
  EXPECT_EQ(q->signature.size(), 4u + 34 + 34);
  EXPECT_EQ(q->signature[1], 0x18);

  Rsp hmac;
  hmac.U32(2 + 4 + 4).Sized(attest).U16(0x0005).U16(0x000b).Auth();
  EXPECT_THAT(ParseQuoteResponse(hmac.Build(0x8002)),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_Quote response: signature algorithm 0x005 is not "
                       "supported"));
  EXPECT_THAT(QuoteCommand(1, Bytes(65, 0), pcrs),
              StatusIs(ErrorCode::kInvalidArgument,
                       "qualifying data of 65 bytes exceeds the maximum of "
                       "64"));
}

TEST(TpmWireTest, QuoteRefusesTruncatedSignature) {
  Bytes attest = {0xff, 0x54};
  Rsp body;
  body.U32(2 + 2 + 4 + 2).Sized(attest).U16(0x0018).U16(0x000b).U16(40).Auth();
  EXPECT_THAT(ParseQuoteResponse(body.Build(0x8002)),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM2_Quote response: truncated at "
                       "signature.signatureR"));
}

TEST(TpmWireTest, RetryWarnings) {
  EXPECT_TRUE(IsRetryResponse(Rsp().Build(0x8001, 0x922)));
  EXPECT_TRUE(IsRetryResponse(Rsp().Build(0x8001, 0x908)));
  EXPECT_TRUE(IsRetryResponse(Rsp().Build(0x8001, 0x90a)));
  EXPECT_FALSE(IsRetryResponse(Rsp().Build(0x8001, 0x907)));
  EXPECT_FALSE(IsRetryResponse(Rsp().Build(0x8001)));
  EXPECT_FALSE(IsRetryResponse(Bytes{0x80, 0x01}));
}

TEST(TpmWireTest, FlushContextAndResponseSize) {
  EXPECT_EQ(FlushContextCommand(0x80000002),
            (Bytes{0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x65, 0x80, 0, 0, 2}));
  EXPECT_THAT(ParseFlushContextResponse(Rsp().Build(0x8001)), IsOk());
  EXPECT_THAT(ResponseSize(Bytes{0x80, 0x01, 0, 0, 0x10, 0x01, 0, 0, 0, 0}),
              StatusIs(ErrorCode::kInvalidArgument,
                       "TPM response announces 4097 bytes, outside 10-4096"));
  auto size = ResponseSize(Bytes{0x80, 0x01, 0, 0, 0, 14, 0, 0, 0, 0});
  ASSERT_THAT(size, IsOk());
  EXPECT_EQ(*size, 14u);
}

}  // namespace
}  // namespace tvd::attest::tpmwire
