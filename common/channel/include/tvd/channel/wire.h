// Building and reading message payloads: big-endian integers and
// length-prefixed byte strings.
//
// WireReader never reads past its input: every getter returns a
// ProtocolError naming the field when the input is short or a length is above
// the stated maximum, so a hostile payload can only produce an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd::channel {

class WireWriter {
 public:
  // Room for `n` bytes up front: an encoder that knows its size writes
  // into one buffer, and a key written into it is never left behind in a
  // buffer the vector outgrew.
  void Reserve(std::size_t n) { out_.reserve(n); }
  void U8(std::uint8_t v);
  void U16(std::uint16_t v);
  void U32(std::uint32_t v);
  void U64(std::uint64_t v);
  // u32 length + bytes.
  void Bytes(std::span<const std::uint8_t> v);
  void String(std::string_view v);

  const std::vector<std::uint8_t>& data() const { return out_; }
  std::vector<std::uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
};

class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> in) : in_(in) {}

  StatusOr<std::uint8_t> U8(std::string_view field);
  StatusOr<std::uint16_t> U16(std::string_view field);
  StatusOr<std::uint32_t> U32(std::string_view field);
  StatusOr<std::uint64_t> U64(std::string_view field);
  // A u32-length-prefixed byte string of at most `max` bytes.
  StatusOr<std::vector<std::uint8_t>> Bytes(std::string_view field,
                                            std::size_t max);
  // Same, without copying: the span points into the reader's input.
  StatusOr<std::span<const std::uint8_t>> BytesView(std::string_view field,
                                                    std::size_t max);
  StatusOr<std::string> String(std::string_view field, std::size_t max);
  // Same, without copying: the view points into the reader's input.
  StatusOr<std::string_view> StringView(std::string_view field,
                                        std::size_t max);

  // Bytes not yet read.
  std::size_t remaining() const { return in_.size() - pos_; }

  // ProtocolError when bytes are left over (a payload must be read whole).
  Status ExpectEnd(std::string_view message) const;

 private:
  StatusOr<std::span<const std::uint8_t>> Take(std::string_view field,
                                               std::size_t n);
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

}  // namespace tvd::channel
