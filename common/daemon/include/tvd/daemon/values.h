// Typed values of flags and config keys: integers with bounds, durations and
// booleans. Pure functions; each returns InvalidArgument whose message says
// why the text is refused (the caller adds which flag or key it was).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "tvd/status.h"

namespace tvd::daemon {

// A decimal integer in [min, max]: an optional '-' then digits only (no
// '+', spaces, hex or trailing text). Error: "'TEXT' is not a number in
// MIN..MAX".
StatusOr<std::int64_t> ParseInteger(std::string_view text, std::int64_t min,
                                    std::int64_t max);

// The unit a duration is read in when the text is a bare number.
enum class DurationUnit { kMilliseconds, kSeconds };

// A duration: digits followed by one unit of ms, s, m or h ("500ms", "30s",
// "2m", "1h"); a bare number is read in `bare_unit` (for flags whose name
// carries the unit, such as --heartbeat-ms). The result must lie in [min,
// max]. Errors: "'TEXT' is not a duration (digits then ms, s, m or h)",
// "'TEXT' is not a duration in MIN..MAX" (bounds printed in ms).
StatusOr<std::chrono::milliseconds> ParseDuration(
    std::string_view text, DurationUnit bare_unit,
    std::chrono::milliseconds min, std::chrono::milliseconds max);

// "true", "yes", "1" or "false", "no", "0", exactly. Error: "'TEXT' is not
// true or false".
StatusOr<bool> ParseBool(std::string_view text);

}  // namespace tvd::daemon
