#include "tvd/daemon/values.h"

#include <charconv>
#include <string>

namespace tvd::daemon {

namespace {

// Digits only, no sign: what every unit-suffixed number is made of.
std::optional<std::int64_t> Digits(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return std::nullopt;
  }
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return n;
}

}  // namespace

StatusOr<std::int64_t> ParseInteger(std::string_view text, std::int64_t min,
                                    std::int64_t max) {
  std::int64_t n = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, n);
  // from_chars accepts a leading '-' but not '+', spaces or "0x": exactly the
  // decimal forms wanted.
  if (text.empty() || ec != std::errc() || end != last || n < min || n > max) {
    return InvalidArgument("'" + std::string(text) + "' is not a number in " +
                           std::to_string(min) + ".." + std::to_string(max));
  }
  return n;
}

StatusOr<std::chrono::milliseconds> ParseDuration(
    std::string_view text, DurationUnit bare_unit,
    std::chrono::milliseconds min, std::chrono::milliseconds max) {
  const std::string quoted = "'" + std::string(text) + "'";
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;  // milliseconds per unit
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else if (unit.empty()) {
    scale = bare_unit == DurationUnit::kSeconds ? 1000 : 1;
  }
  std::optional<std::int64_t> n = Digits(text.substr(0, digits));
  if (scale == 0 || !n) {
    return InvalidArgument(quoted +
                           " is not a duration (digits then ms, s, m or h)");
  }
  // Refuse what would overflow before multiplying.
  const std::int64_t limit = max.count() / scale + 1;
  const std::int64_t ms = *n > limit ? max.count() + 1 : *n * scale;
  if (ms < min.count() || ms > max.count()) {
    return InvalidArgument(quoted + " is not a duration in " +
                           std::to_string(min.count()) + "ms.." +
                           std::to_string(max.count()) + "ms");
  }
  return std::chrono::milliseconds(ms);
}

StatusOr<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "no" || text == "0") return false;
  return InvalidArgument("'" + std::string(text) + "' is not true or false");
}

}  // namespace tvd::daemon
