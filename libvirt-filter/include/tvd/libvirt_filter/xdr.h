// XDR (RFC 4506) reading and writing, the subset libvirt's RPC payloads use:
// 32-bit signed/unsigned integers, 64-bit hypers, booleans, variable-length
// strings and opaques (4-byte length, data, zero padding to a multiple of
// four), fixed-length opaques (libvirt's 16-byte UUIDs) and optional values
// ("pointers": a 4-byte 0/1 flag followed by the value).
//
// XdrReader never reads past its input: every getter returns ProtocolError
// naming the field and the offset when the bytes run out, a length exceeds
// its declared maximum, or a boolean/pointer flag is neither 0 nor 1. Nothing
// here throws except std::bad_alloc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd::libvirt_filter {

inline constexpr std::size_t kUuidSize = 16;
using Uuid = std::array<std::uint8_t, kUuidSize>;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case.
std::string UuidToString(const Uuid& uuid);
// Parses the 36-character form (either case). nullopt when malformed.
std::optional<Uuid> UuidFromString(std::string_view text);

class XdrReader {
 public:
  explicit XdrReader(std::span<const std::uint8_t> data) : data_(data) {}

  StatusOr<std::uint32_t> U32(std::string_view field);
  StatusOr<std::int32_t> I32(std::string_view field);
  StatusOr<std::uint64_t> U64(std::string_view field);
  StatusOr<bool> Bool(std::string_view field);
  // A string of at most `max` bytes.
  StatusOr<std::string> String(std::string_view field, std::uint32_t max);
  // An optional string (libvirt's remote_string).
  StatusOr<std::optional<std::string>> OptionalString(std::string_view field,
                                                      std::uint32_t max);
  StatusOr<Uuid> FixedUuid(std::string_view field);
  // Skips `count` bytes of a fixed-length opaque (plus padding).
  Status SkipFixed(std::string_view field, std::size_t count);
  // Skips a variable-length opaque/string of at most `max` bytes.
  Status SkipVariable(std::string_view field, std::uint32_t max);

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return data_.size() - offset_; }
  bool AtEnd() const { return offset_ == data_.size(); }
  // ProtocolError when bytes are left over after the last field.
  Status ExpectEnd(std::string_view what) const;

 private:
  Status Need(std::size_t bytes, std::string_view field) const;
  std::span<const std::uint8_t> data_;
  std::size_t offset_ = 0;
};

class XdrWriter {
 public:
  void U32(std::uint32_t value);
  void I32(std::int32_t value) { U32(static_cast<std::uint32_t>(value)); }
  void U64(std::uint64_t value);
  void Bool(bool value) { U32(value ? 1 : 0); }
  void String(std::string_view value);
  void OptionalString(const std::optional<std::string>& value);
  void FixedUuid(const Uuid& uuid);
  void Raw(std::span<const std::uint8_t> bytes);

  std::vector<std::uint8_t>& bytes() { return bytes_; }
  std::vector<std::uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

}  // namespace tvd::libvirt_filter
