#include "tvd/hex.h"

namespace tvd {

std::string ToHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

StatusOr<std::vector<std::uint8_t>> LowerHexToBytes(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return InvalidArgument("odd number of hex digits (" +
                           std::to_string(hex.size()) + ")");
  }
  std::vector<std::uint8_t> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); ++i) {
    char c = hex[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return InvalidArgument(
          std::string("not a lower-case hex digit '") +
          (c >= 0x20 && c < 0x7f ? std::string(1, c) : std::string("?")) +
          "' at position " + std::to_string(i));
    }
    if (i % 2 == 1) {
      out.push_back(static_cast<std::uint8_t>(HexDigitValue(hex[i - 1]) << 4 |
                                              HexDigitValue(c)));
    }
  }
  return out;
}

}  // namespace tvd
