#include "tvd/policy/values.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace tvd::policy {

namespace {
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) {
  return IsLower(c) || IsDigit(c) || (c >= 'A' && c <= 'Z');
}
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
}  // namespace

bool IsTvdName(std::string_view s) {
  if (s.empty() || s.size() > 31 || !IsLower(s[0]) || s.back() == '-') {
    return false;
  }
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c) && c != '-') return false;
  }
  return true;
}

bool IsVmName(std::string_view s) {
  if (s.empty() || s.size() > 64 || !IsAlnum(s[0])) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsSubject(std::string_view s) {
  if (s.empty() || s.size() > 1024 || s.front() == ' ' || s.back() == ' ') {
    return false;
  }
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return s.find('=') != std::string_view::npos;
}

bool IsDiskTarget(std::string_view s) {
  if (s.size() < 2 || s.size() > 16 || !IsLower(s[0])) return false;
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c)) return false;
  }
  return true;
}

bool IsInterfaceName(std::string_view s) {
  if (s.empty() || s.size() > 15 || !IsAlnum(s[0])) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsAbsolutePath(std::string_view s) {
  if (s.size() < 2 || s.size() > 4096 || s[0] != '/') return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  if (s.back() == '/') return false;
  std::size_t start = 1;
  while (start <= s.size()) {
    std::size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

std::optional<std::uint64_t> ParseDecimal(std::string_view s, std::uint64_t min,
                                          std::uint64_t max) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

std::optional<std::string> NormalizeCidr(std::string_view s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos || s.size() > 64) return std::nullopt;
  const std::string addr(s.substr(0, slash));
  const bool v6 = addr.find(':') != std::string::npos;
  const auto len = ParseDecimal(s.substr(slash + 1), 0, v6 ? 128 : 32);
  if (!len) return std::nullopt;
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), bytes.data()) != 1) {
    return std::nullopt;
  }
  const std::size_t nbytes = v6 ? 16 : 4;
  for (std::size_t bit = *len; bit < nbytes * 8; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), out, sizeof out);
  return std::string(out) + "/" + std::to_string(*len);
}

}  // namespace tvd::policy
