// Small text helpers shared by the parsers of config files and subjects.
#pragma once

#include <string_view>

namespace tvd {

// `s` without leading and trailing spaces, tabs, carriage returns and line
// feeds. The result views `s`.
std::string_view TrimWhitespace(std::string_view s);

}  // namespace tvd
