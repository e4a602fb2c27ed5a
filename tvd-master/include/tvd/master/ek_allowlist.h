// The EK allowlist: which TPM endorsement keys each host may enrol an AK
// with (enrolment.h). One "<host> <64 hex>" per line, the hex being the
// SHA-256 of the EK public area; '#' starts a comment line, blank lines are
// skipped.
#pragma once

#include <map>
#include <string>

#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::master {

// IoError "EK allowlist PATH cannot be read"; InvalidArgument "PATH:LINE:
// expected '<host> <sha256 hex of EK public>'" for a line that is not a
// valid host name and one digest.
StatusOr<std::multimap<std::string, Sha256Digest>> LoadEkAllowlist(
    const std::string& path);

}  // namespace tvd::master
