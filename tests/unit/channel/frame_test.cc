#include "tvd/channel/frame.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tvd::channel {
namespace {

using Kind = DecodeResult::Kind;

std::vector<std::uint8_t> Header(std::uint16_t magic, std::uint16_t version,
                                 std::uint16_t type, std::uint32_t length) {
  return {static_cast<std::uint8_t>(magic >> 8),
          static_cast<std::uint8_t>(magic),
          static_cast<std::uint8_t>(version >> 8),
          static_cast<std::uint8_t>(version),
          static_cast<std::uint8_t>(type >> 8),
          static_cast<std::uint8_t>(type),
          static_cast<std::uint8_t>(length >> 24),
          static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8),
          static_cast<std::uint8_t>(length)};
}

TEST(FrameTest, EncodeThenDecodeRoundTrips) {
  std::vector<std::uint8_t> payload = {1, 2, 3, 4, 5};
  auto bytes = EncodeFrame(MessageType::kAttestEvidence, payload);
  ASSERT_EQ(bytes.size(), kFrameHeaderSize + payload.size());
  bytes.push_back(0x54);  // start of a next frame stays unconsumed
  DecodeResult r = DecodeFrame(bytes, 16);
  ASSERT_EQ(r.kind, Kind::kFrame);
  EXPECT_EQ(r.frame.type, MessageType::kAttestEvidence);
  EXPECT_EQ(r.frame.payload, payload);
  EXPECT_EQ(r.consumed, kFrameHeaderSize + payload.size());
}

// Connection::WriteFrame sends a large payload after its header alone.
TEST(FrameTest, TheHeaderIsWhatEncodeFramePutsFirst) {
  auto header = EncodeFrameHeader(MessageType::kJoinGrant, 0x01020304);
  EXPECT_EQ(
      std::vector<std::uint8_t>(header.begin(), header.end()),
      Header(kFrameMagic, kProtocolVersion,
             static_cast<std::uint16_t>(MessageType::kJoinGrant), 0x01020304));
  std::vector<std::uint8_t> payload(300, 7);
  auto frame = EncodeFrame(MessageType::kJoinGrant, payload);
  auto short_header = EncodeFrameHeader(MessageType::kJoinGrant, 300);
  EXPECT_TRUE(
      std::equal(short_header.begin(), short_header.end(), frame.begin()));
}

TEST(FrameTest, IncompleteInputNeedsMore) {
  auto bytes =
      EncodeFrame(MessageType::kAttestHello, std::vector<std::uint8_t>(8, 7));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    DecodeResult r = DecodeFrame(std::span(bytes).first(n), 64);
    EXPECT_EQ(r.kind, Kind::kNeedMore) << n;
    // Once the header is in, the frame's type and whole size are known.
    EXPECT_EQ(r.frame_size, n < kFrameHeaderSize ? 0 : bytes.size()) << n;
    if (n >= kFrameHeaderSize) {
      EXPECT_EQ(r.frame.type, MessageType::kAttestHello) << n;
    }
  }
}

TEST(FrameTest, RefusesBadHeadersWithReasons) {
  auto check = [](std::vector<std::uint8_t> bytes, std::size_t max,
                  const std::string& reason) {
    DecodeResult r = DecodeFrame(bytes, max);
    ASSERT_EQ(r.kind, Kind::kError) << reason;
    EXPECT_EQ(r.error, ProtocolError(reason));
  };
  check({'X'}, 64, "bad frame magic");
  check({0x54, 0x57}, 64, "bad frame magic");
  check(Header(kFrameMagic, 2, 6, 0), 64,
        "unsupported protocol version 2 (expected 1)");
  check(Header(kFrameMagic, 1, 0, 0), 64, "unknown message type 0");
  check(Header(kFrameMagic, 1, 999, 0), 64, "unknown message type 999");
  check(Header(kFrameMagic, 1, 6, 65), 64,
        "frame length 65 exceeds maximum 64");
  check(Header(kFrameMagic, 1, 6, 0xffffffff), kDefaultMaxPayload,
        "frame length 4294967295 exceeds maximum 1048576");
}

TEST(FrameTest, ErrorPayloadRoundTrips) {
  Status s = Unauthenticated("nonce replayed: it was already used");
  EXPECT_EQ(DecodeErrorPayload(EncodeErrorPayload(s)), s);
  EXPECT_EQ(DecodeErrorPayload(std::vector<std::uint8_t>{0}),
            ProtocolError("error frame too short"));
  EXPECT_EQ(DecodeErrorPayload(std::vector<std::uint8_t>{0, 0, 'x'}),
            ProtocolError("error frame with unknown code 0"));
  EXPECT_EQ(DecodeErrorPayload(std::vector<std::uint8_t>{0, 99}),
            ProtocolError("error frame with unknown code 99"));
}

}  // namespace
}  // namespace tvd::channel
