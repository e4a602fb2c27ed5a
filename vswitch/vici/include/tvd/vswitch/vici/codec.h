// The VICI wire format: packets inside length-prefixed segments, messages as
// a flat sequence of typed elements.
//
//   segment = u32 big-endian length || packet          (length <= 512 KiB)
//   packet  = u8 type || [u8 name-length || name] || [message]
//   element = u8 type || [u8 name-length || name] || [u16 be length || value]
//
// Decoding is a pure function over bytes. It never trusts a length field, caps
// nesting depth and size, enforces the element grammar (lists hold only
// items, sections balance, keys are unique within a section) and reports the
// first violation with its byte offset: "vici message: <what> at offset N".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"
#include "tvd/vswitch/vici/message.h"

namespace tvd::vici {

// charon refuses segments above 512 KiB; so do we, in both directions.
inline constexpr std::size_t kMaxSegmentSize = 512 * 1024;
// Deepest section nesting accepted. charon's own answers nest at most about
// six levels (list-sa: ike > child-sas > child > ...); 32 leaves room and
// bounds the decoder's recursion-free stack of open sections.
inline constexpr std::size_t kMaxNestingDepth = 32;

enum class PacketType : std::uint8_t {
  kCmdRequest = 0,
  kCmdResponse = 1,
  kCmdUnknown = 2,
  kEventRegister = 3,
  kEventUnregister = 4,
  kEventConfirm = 5,
  kEventUnknown = 6,
  kEvent = 7,
};

enum class ElementType : std::uint8_t {
  kSectionStart = 1,
  kSectionEnd = 2,
  kKeyValue = 3,
  kListStart = 4,
  kListItem = 5,
  kListEnd = 6,
};

// Stable lower-case name of a packet type ("cmd-response"), for errors.
std::string_view PacketTypeName(PacketType type);

// Whether packets of this type carry a name / a message.
bool PacketHasName(PacketType type);
bool PacketHasMessage(PacketType type);

struct Packet {
  PacketType type = PacketType::kCmdResponse;
  std::string name;  // empty for unnamed types
  Message message;   // empty for types without a message
};

// Encodes a message's elements. InvalidArgument when a name is empty or
// longer than 255 bytes, a value or list item exceeds 65535 bytes, or a name
// repeats within one section (charon would reject it).
StatusOr<SecureBytes> EncodeMessage(const Message& message);

// Encodes a whole segment (length prefix included). The result is
// SecureBytes because a request may carry a secret. InvalidArgument as for
// EncodeMessage, for a name on an unnamed type, a missing name on a named
// type, a message on a type without one, or a segment above kMaxSegmentSize.
StatusOr<SecureBytes> EncodeSegment(const Packet& packet);

// Decodes message elements. InvalidArgument on: unknown element type,
// truncated name or value, SECTION_END with no open section, LIST_ITEM
// outside a list, anything but LIST_ITEM/LIST_END inside a list, LIST_END
// with no open list, an empty or repeated name, nesting deeper than
// kMaxNestingDepth, input above kMaxSegmentSize, or unclosed sections/lists
// at the end.
StatusOr<Message> DecodeMessage(std::span<const std::uint8_t> bytes);

// Decodes one packet (the bytes of a segment without its length prefix).
// InvalidArgument on an empty packet, unknown packet type, truncated name,
// trailing bytes on a type without a message, or a bad message.
StatusOr<Packet> DecodePacket(std::span<const std::uint8_t> bytes);

// Splits a byte stream into segments. Feed it what the socket returned;
// Next() yields each complete packet's bytes. A length of 0 or above
// kMaxSegmentSize is a protocol error, after which the reader stays failed
// (the stream cannot be resynchronised).
class SegmentReader {
 public:
  void Append(std::span<const std::uint8_t> bytes);
  // A complete packet (without length prefix), nullopt when more bytes are
  // needed, or InvalidArgument for a bad length.
  StatusOr<std::optional<SecureBytes>> Next();
  // Bytes received but not yet returned.
  std::size_t buffered() const { return buffer_.size() - offset_; }
  void Clear();

 private:
  SecureBytes TakeFront(std::size_t size);
  std::vector<std::uint8_t> buffer_;
  std::size_t offset_ = 0;
  std::optional<Status> failed_;
};

}  // namespace tvd::vici
