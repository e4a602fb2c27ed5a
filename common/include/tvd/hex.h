// Hex text of byte strings, with no dependency beyond the standard library
// and tvd::Status (the static guest attestation tool links it).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd {

// Lower-case hex, two characters a byte. (Also declared in tvd/sha256.h,
// where most callers find it; defined once, in hex.cc.)
std::string ToHex(std::span<const std::uint8_t> bytes);

// 0-15 for a hex digit of either case, -1 otherwise.
int HexDigitValue(char c);

// Parses lower-case hex (what ToHex writes: one spelling for each byte
// string, so signed encodings stay canonical). InvalidArgument "odd number
// of hex digits (N)" or "not a lower-case hex digit 'c' at position P".
StatusOr<std::vector<std::uint8_t>> LowerHexToBytes(std::string_view hex);

}  // namespace tvd
