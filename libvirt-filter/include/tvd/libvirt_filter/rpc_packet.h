// libvirt RPC packets: framing and header.
//
// On the wire every packet is
//   length  u32  total bytes of the packet, including this word
//   header  6 x u32: program, version, procedure, type, serial, status
//   payload XDR, its shape given by (program, procedure, type, status)
// all big-endian. DecodePacket is a pure function over bytes (the fuzz
// target's entry point); PacketAssembler cuts a byte stream into packets.
//
// Limits: libvirt's own maximum is 16 MiB for header + payload; the relay
// refuses any length word above kMaxPacketSize (16 MiB, counting the length
// word itself) or below the 28 bytes of length + header, before reading the
// body, so a lying length field costs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tvd/status.h"

namespace tvd::libvirt_filter {

inline constexpr std::size_t kLengthWordSize = 4;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMinPacketSize = kLengthWordSize + kHeaderSize;
inline constexpr std::size_t kMaxPacketSize = 16 * 1024 * 1024;

enum class MessageType : std::uint32_t {
  kCall = 0,
  kReply = 1,
  kMessage = 2,  // asynchronous event, or keepalive
  kStream = 3,
  kCallWithFds = 4,
  kReplyWithFds = 5,
  kStreamHole = 6,
};

enum class MessageStatus : std::uint32_t {
  kOk = 0,
  kError = 1,
  kContinue = 2,
};

struct PacketHeader {
  std::uint32_t program = 0;
  std::uint32_t version = 0;
  std::int32_t procedure = 0;
  MessageType type = MessageType::kCall;
  std::uint32_t serial = 0;
  MessageStatus status = MessageStatus::kOk;
  friend bool operator==(const PacketHeader&, const PacketHeader&) = default;
};

struct Packet {
  PacketHeader header;
  std::vector<std::uint8_t> payload;
};

// Reads the length word of a packet that starts at `prefix` (at least 4
// bytes). ProtocolError when it is below kMinPacketSize or above
// kMaxPacketSize: "packet length N is over the limit of 16777216 bytes".
StatusOr<std::size_t> DecodePacketLength(std::span<const std::uint8_t> prefix);

// Decodes one whole packet (length word included, nothing after it).
// ProtocolError when the length word disagrees with the size of `bytes`,
// the type or status is unknown, or the header is cut short.
StatusOr<Packet> DecodePacket(std::span<const std::uint8_t> bytes);

// Serializes header + payload with the length word in front.
std::vector<std::uint8_t> EncodePacket(const PacketHeader& header,
                                       std::span<const std::uint8_t> payload);

// Splits a byte stream into packets. Bytes are appended with Append; Next
// returns a whole packet when one is buffered. After an error the assembler
// stays failed (the connection must be closed).
class PacketAssembler {
 public:
  void Append(std::span<const std::uint8_t> bytes);
  // nullopt-like empty result: OK with has_packet false. Errors are final.
  StatusOr<bool> Next(Packet& out);
  // Bytes buffered but not yet returned.
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  Status failed_;
};

}  // namespace tvd::libvirt_filter
