// Levelled logging to stderr (journald picks it up under systemd).
//
// Never pass key material, secrets or whole policies to these functions; log
// identifiers (TVD name, host subject, VM UUID) and digests instead.
#pragma once

#include <sstream>
#include <string_view>

namespace tvd::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below `level` are dropped. Default kInfo; the TVD_LOG_LEVEL
// environment variable (debug|info|warning|error) overrides it at start-up.
void SetLevel(Level level);
Level GetLevel();

// Sets the component name printed in front of every line ("tvd-master").
void SetComponent(std::string_view name);

// Writes one line: "<level> <component>: <message>". Thread-safe.
void Write(Level level, std::string_view message);

namespace detail {
template <typename... Args>
void Emit(Level level, const Args&... args) {
  if (level < GetLevel()) return;
  std::ostringstream out;
  (out << ... << args);
  Write(level, out.str());
}
}  // namespace detail

template <typename... Args>
void Debug(const Args&... args) {
  detail::Emit(Level::kDebug, args...);
}
template <typename... Args>
void Info(const Args&... args) {
  detail::Emit(Level::kInfo, args...);
}
template <typename... Args>
void Warning(const Args&... args) {
  detail::Emit(Level::kWarning, args...);
}
template <typename... Args>
void Error(const Args&... args) {
  detail::Emit(Level::kError, args...);
}

}  // namespace tvd::log
