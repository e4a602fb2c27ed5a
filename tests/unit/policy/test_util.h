// Helpers for the policy tests: edit a known-good document in one place and
// check the exact error it then produces.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace tvd::policy::testing {

// `text` with the single occurrence of `from` replaced by `to`. Fails the
// test (and returns `text` unchanged) when `from` does not occur exactly once,
// so a stale fixture cannot turn a case into a no-op.
inline std::string Mutate(std::string text, std::string_view from,
                          std::string_view to) {
  const std::size_t pos = text.find(from);
  if (pos == std::string::npos ||
      text.find(from, pos + 1) != std::string::npos) {
    ADD_FAILURE() << "fixture text not found exactly once: " << from;
    return text;
  }
  text.replace(pos, from.size(), to);
  return text;
}

// Three distinct well-formed SHA-256 values (64 hex digits) for policies
// that list measurements.
inline const std::string kA(64, 'a');
inline const std::string kB(64, 'b');
inline const std::string kC(64, 'c');

}  // namespace tvd::policy::testing
