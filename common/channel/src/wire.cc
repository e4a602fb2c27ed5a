#include "tvd/channel/wire.h"

namespace tvd::channel {

void WireWriter::U8(std::uint8_t v) { out_.push_back(v); }
// Big-endian, appended in one insert (not a push_back per byte).
template <typename T>
void AppendBigEndian(std::vector<std::uint8_t>& out, T v) {
  std::uint8_t b[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    b[i] = static_cast<std::uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
  }
  out.insert(out.end(), b, b + sizeof(T));
}

void WireWriter::U16(std::uint16_t v) { AppendBigEndian(out_, v); }
void WireWriter::U32(std::uint32_t v) { AppendBigEndian(out_, v); }
void WireWriter::U64(std::uint64_t v) { AppendBigEndian(out_, v); }
void WireWriter::Bytes(std::span<const std::uint8_t> v) {
  U32(static_cast<std::uint32_t>(v.size()));
  out_.insert(out_.end(), v.begin(), v.end());
}
void WireWriter::String(std::string_view v) {
  Bytes({reinterpret_cast<const std::uint8_t*>(v.data()), v.size()});
}

StatusOr<std::span<const std::uint8_t>> WireReader::Take(std::string_view field,
                                                         std::size_t n) {
  if (in_.size() - pos_ < n) {
    return ProtocolError("message truncated in field '" + std::string(field) +
                         "'");
  }
  auto out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

StatusOr<std::uint8_t> WireReader::U8(std::string_view field) {
  TVD_ASSIGN_OR_RETURN(auto b, Take(field, 1));
  return b[0];
}
StatusOr<std::uint16_t> WireReader::U16(std::string_view field) {
  TVD_ASSIGN_OR_RETURN(auto b, Take(field, 2));
  return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}
StatusOr<std::uint32_t> WireReader::U32(std::string_view field) {
  TVD_ASSIGN_OR_RETURN(auto b, Take(field, 4));
  std::uint32_t v = 0;
  for (auto x : b) v = (v << 8) | x;
  return v;
}
StatusOr<std::uint64_t> WireReader::U64(std::string_view field) {
  TVD_ASSIGN_OR_RETURN(auto b, Take(field, 8));
  std::uint64_t v = 0;
  for (auto x : b) v = (v << 8) | x;
  return v;
}
StatusOr<std::span<const std::uint8_t>> WireReader::BytesView(
    std::string_view field, std::size_t max) {
  TVD_ASSIGN_OR_RETURN(std::uint32_t n, U32(field));
  if (n > max) {
    return ProtocolError("field '" + std::string(field) + "' has " +
                         std::to_string(n) + " bytes, more than the maximum " +
                         std::to_string(max));
  }
  return Take(field, n);
}
StatusOr<std::vector<std::uint8_t>> WireReader::Bytes(std::string_view field,
                                                      std::size_t max) {
  TVD_ASSIGN_OR_RETURN(auto v, BytesView(field, max));
  return std::vector<std::uint8_t>(v.begin(), v.end());
}
StatusOr<std::string> WireReader::String(std::string_view field,
                                         std::size_t max) {
  TVD_ASSIGN_OR_RETURN(auto v, BytesView(field, max));
  // From pointer and size: one memcpy, not a per-byte conversion loop.
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}
StatusOr<std::string_view> WireReader::StringView(std::string_view field,
                                                  std::size_t max) {
  // The common case read directly (a member list is 10^4 of these per
  // message); anything else goes the checked way, for its exact error.
  const std::size_t left = in_.size() - pos_;
  if (left >= 4) {
    const std::uint8_t* p = in_.data() + pos_;
    const std::size_t n = (std::size_t{p[0]} << 24) |
                          (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) |
                          std::size_t{p[3]};
    if (n <= max && n <= left - 4) {
      pos_ += 4 + n;
      return std::string_view(reinterpret_cast<const char*>(p + 4), n);
    }
  }
  TVD_ASSIGN_OR_RETURN(auto v, BytesView(field, max));
  return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
}
Status WireReader::ExpectEnd(std::string_view message) const {
  if (pos_ != in_.size()) {
    return ProtocolError(std::to_string(in_.size() - pos_) +
                         " unexpected trailing bytes in " +
                         std::string(message));
  }
  return Status::Ok();
}

}  // namespace tvd::channel
