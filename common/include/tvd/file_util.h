// Reading small files whole, with a cap on what an untrusted file may cost.
#pragma once

#include <cstddef>
#include <string>

#include "tvd/status.h"

namespace tvd {

// Reads the whole file at `path`, to end of file (so files that report size
// 0, like securityfs's IMA list, are read too). Errors: IoError "cannot open
// PATH: <reason>" or "cannot read PATH: <reason>"; FailedPrecondition "PATH
// is larger than N bytes" as soon as more than `max_bytes` arrive.
StatusOr<std::string> ReadFileCapped(const std::string& path,
                                     std::size_t max_bytes);

}  // namespace tvd
