// How every policy error is reported.
//
// All parsers in this module stop at the FIRST error and return it as an
// InvalidArgument Status whose message is "FILE:LINE: message": FILE is the
// source name the caller passed in (normally the path), LINE the 1-based line
// of the element or attribute at fault. Errors that concern the whole file
// (too large, empty) use line 1. Tests compare these messages exactly, so the
// wording is part of the contract.
#pragma once

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::policy {

// InvalidArgument("file:line: message").
Status PolicyError(std::string_view file, int line, std::string_view message);

}  // namespace tvd::policy
