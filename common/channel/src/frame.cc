#include "tvd/channel/frame.h"

#include <algorithm>
#include <cstring>

namespace tvd::channel {
namespace {
std::uint16_t Get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t Get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
         (std::uint32_t{p[2]} << 8) | p[3];
}
DecodeResult Error(std::string why) {
  DecodeResult r;
  r.kind = DecodeResult::Kind::kError;
  r.error = ProtocolError(std::move(why));
  return r;
}
}  // namespace

bool IsKnownMessageType(std::uint16_t type) {
  return (type >= static_cast<std::uint16_t>(MessageType::kError) &&
          type <= static_cast<std::uint16_t>(MessageType::kAttestImaChunk)) ||
         (type >= static_cast<std::uint16_t>(MessageType::kJoinRequest) &&
          type <= static_cast<std::uint16_t>(MessageType::kGuestQuoteReport));
}

std::array<std::uint8_t, kFrameHeaderSize> EncodeFrameHeader(
    MessageType type, std::size_t payload_size) {
  std::array<std::uint8_t, kFrameHeaderSize> header{};
  std::uint8_t* p = header.data();
  auto put16 = [&p](std::uint16_t v) {
    *p++ = static_cast<std::uint8_t>(v >> 8);
    *p++ = static_cast<std::uint8_t>(v);
  };
  put16(kFrameMagic);
  put16(kProtocolVersion);
  put16(static_cast<std::uint16_t>(type));
  auto length = static_cast<std::uint32_t>(payload_size);
  for (int shift = 24; shift >= 0; shift -= 8) {
    *p++ = static_cast<std::uint8_t>(length >> shift);
  }
  return header;
}

std::vector<std::uint8_t> EncodeFrame(MessageType type,
                                      std::span<const std::uint8_t> payload) {
  // Sized up front and filled in place (no growing inserts).
  std::vector<std::uint8_t> out(kFrameHeaderSize + payload.size());
  const auto header = EncodeFrameHeader(type, payload.size());
  std::memcpy(out.data(), header.data(), header.size());
  if (!payload.empty()) {
    std::memcpy(out.data() + kFrameHeaderSize, payload.data(), payload.size());
  }
  return out;
}

DecodeResult DecodeFrame(std::span<const std::uint8_t> in,
                         std::size_t max_payload) {
  const std::uint8_t* p = in.data();
  if (in.size() >= 1 && p[0] != (kFrameMagic >> 8)) {
    return Error("bad frame magic");
  }
  if (in.size() >= 2 && Get16(p) != kFrameMagic) {
    return Error("bad frame magic");
  }
  if (in.size() >= 4 && Get16(p + 2) != kProtocolVersion) {
    return Error("unsupported protocol version " +
                 std::to_string(Get16(p + 2)) + " (expected " +
                 std::to_string(kProtocolVersion) + ")");
  }
  if (in.size() >= 6 && !IsKnownMessageType(Get16(p + 4))) {
    return Error("unknown message type " + std::to_string(Get16(p + 4)));
  }
  if (in.size() < kFrameHeaderSize) return {};
  std::uint32_t length = Get32(p + 6);
  if (length > max_payload) {
    return Error("frame length " + std::to_string(length) +
                 " exceeds maximum " + std::to_string(max_payload));
  }
  if (in.size() - kFrameHeaderSize < length) {
    DecodeResult more;
    more.frame.type = static_cast<MessageType>(Get16(p + 4));
    more.frame_size = kFrameHeaderSize + length;
    return more;
  }
  DecodeResult r;
  r.kind = DecodeResult::Kind::kFrame;
  r.frame.type = static_cast<MessageType>(Get16(p + 4));
  r.frame.payload.assign(p + kFrameHeaderSize, p + kFrameHeaderSize + length);
  r.consumed = kFrameHeaderSize + length;
  return r;
}

std::vector<std::uint8_t> EncodeErrorPayload(const Status& status) {
  const std::string& m = status.message();
  // Reasons are short; cap them so an error frame always fits any maximum.
  std::size_t n = std::min<std::size_t>(m.size(), 4096);
  std::vector<std::uint8_t> out(2 + n);
  auto code = static_cast<std::uint16_t>(status.code());
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  if (n > 0) std::memcpy(out.data() + 2, m.data(), n);
  return out;
}

Status DecodeErrorPayload(std::span<const std::uint8_t> payload) {
  if (payload.size() < 2) return ProtocolError("error frame too short");
  std::uint16_t code = Get16(payload.data());
  if (code == 0 ||
      code > static_cast<std::uint16_t>(ErrorCode::kResourceExhausted)) {
    return ProtocolError("error frame with unknown code " +
                         std::to_string(code));
  }
  return Status(static_cast<ErrorCode>(code),
                std::string(payload.begin() + 2, payload.end()));
}

}  // namespace tvd::channel
