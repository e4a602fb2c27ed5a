#include "tvd/libvirt_filter/xdr.h"

#include <cstring>

namespace tvd::libvirt_filter {

namespace {
std::size_t Padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string UuidToString(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 0xf]);
  }
  return out;
}

std::optional<Uuid> UuidFromString(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid out{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

Status XdrReader::Need(std::size_t bytes, std::string_view field) const {
  if (bytes > remaining()) {
    return ProtocolError("XDR field '" + std::string(field) + "' at offset " +
                         std::to_string(offset_) + " needs " +
                         std::to_string(bytes) + " bytes, " +
                         std::to_string(remaining()) + " left");
  }
  return Status::Ok();
}

StatusOr<std::uint32_t> XdrReader::U32(std::string_view field) {
  TVD_RETURN_IF_ERROR(Need(4, field));
  const std::uint8_t* p = data_.data() + offset_;
  offset_ += 4;
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 |
         std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}

StatusOr<std::int32_t> XdrReader::I32(std::string_view field) {
  TVD_ASSIGN_OR_RETURN(std::uint32_t v, U32(field));
  return static_cast<std::int32_t>(v);
}

StatusOr<std::uint64_t> XdrReader::U64(std::string_view field) {
  TVD_ASSIGN_OR_RETURN(std::uint32_t hi, U32(field));
  TVD_ASSIGN_OR_RETURN(std::uint32_t lo, U32(field));
  return std::uint64_t{hi} << 32 | lo;
}

StatusOr<bool> XdrReader::Bool(std::string_view field) {
  std::size_t at = offset_;
  TVD_ASSIGN_OR_RETURN(std::uint32_t v, U32(field));
  if (v > 1) {
    return ProtocolError("XDR field '" + std::string(field) + "' at offset " +
                         std::to_string(at) + " is " + std::to_string(v) +
                         ", expected 0 or 1");
  }
  return v == 1;
}

StatusOr<std::string> XdrReader::String(std::string_view field,
                                        std::uint32_t max) {
  std::size_t at = offset_;
  TVD_ASSIGN_OR_RETURN(std::uint32_t length, U32(field));
  if (length > max) {
    return ProtocolError("XDR field '" + std::string(field) + "' at offset " +
                         std::to_string(at) + " has length " +
                         std::to_string(length) + ", over the limit of " +
                         std::to_string(max));
  }
  TVD_RETURN_IF_ERROR(Need(Padded(length), field));
  std::string out(reinterpret_cast<const char*>(data_.data() + offset_),
                  length);
  offset_ += Padded(length);
  return out;
}

StatusOr<std::optional<std::string>> XdrReader::OptionalString(
    std::string_view field, std::uint32_t max) {
  TVD_ASSIGN_OR_RETURN(bool present, Bool(field));
  if (!present) return std::optional<std::string>();
  TVD_ASSIGN_OR_RETURN(std::string value, String(field, max));
  return std::optional<std::string>(std::move(value));
}

StatusOr<Uuid> XdrReader::FixedUuid(std::string_view field) {
  TVD_RETURN_IF_ERROR(Need(kUuidSize, field));
  Uuid out;
  std::memcpy(out.data(), data_.data() + offset_, kUuidSize);
  offset_ += kUuidSize;
  return out;
}

Status XdrReader::SkipFixed(std::string_view field, std::size_t count) {
  TVD_RETURN_IF_ERROR(Need(Padded(count), field));
  offset_ += Padded(count);
  return Status::Ok();
}

Status XdrReader::SkipVariable(std::string_view field, std::uint32_t max) {
  std::size_t at = offset_;
  TVD_ASSIGN_OR_RETURN(std::uint32_t length, U32(field));
  if (length > max) {
    return ProtocolError("XDR field '" + std::string(field) + "' at offset " +
                         std::to_string(at) + " has length " +
                         std::to_string(length) + ", over the limit of " +
                         std::to_string(max));
  }
  return SkipFixed(field, length);
}

Status XdrReader::ExpectEnd(std::string_view what) const {
  if (AtEnd()) return Status::Ok();
  return ProtocolError(std::string(what) + ": " + std::to_string(remaining()) +
                       " unexpected bytes after offset " +
                       std::to_string(offset_));
}

void XdrWriter::U32(std::uint32_t v) {
  bytes_.push_back(static_cast<std::uint8_t>(v >> 24));
  bytes_.push_back(static_cast<std::uint8_t>(v >> 16));
  bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
  bytes_.push_back(static_cast<std::uint8_t>(v));
}

void XdrWriter::U64(std::uint64_t v) {
  U32(static_cast<std::uint32_t>(v >> 32));
  U32(static_cast<std::uint32_t>(v));
}

void XdrWriter::String(std::string_view value) {
  U32(static_cast<std::uint32_t>(value.size()));
  bytes_.insert(bytes_.end(), value.begin(), value.end());
  bytes_.resize(bytes_.size() + (Padded(value.size()) - value.size()), 0);
}

void XdrWriter::OptionalString(const std::optional<std::string>& value) {
  Bool(value.has_value());
  if (value) String(*value);
}

void XdrWriter::FixedUuid(const Uuid& uuid) {
  bytes_.insert(bytes_.end(), uuid.begin(), uuid.end());
}

void XdrWriter::Raw(std::span<const std::uint8_t> b) {
  bytes_.insert(bytes_.end(), b.begin(), b.end());
}

}  // namespace tvd::libvirt_filter
