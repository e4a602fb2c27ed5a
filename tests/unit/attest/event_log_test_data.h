// What the event-log tests share: the logs under tests/unit/attest/data and
// little-endian edits of their bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tvd/testing/files.h"

namespace tvd::attest::event_log_test {

using Bytes = std::vector<std::uint8_t>;

// The bytes of tests/unit/attest/data/NAME (empty when it cannot be read).
inline Bytes ReadData(const std::string& name) {
  std::string text = tvd::testing::ReadFileOrEmpty(
      std::string(TVD_SOURCE_DIR) + "/tests/unit/attest/data/" + name);
  return Bytes(text.begin(), text.end());
}

// The event log's integers are little-endian.
inline void PutU32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
}

}  // namespace tvd::attest::event_log_test
