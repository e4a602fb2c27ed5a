// A value that tells whether two masters hold the same key-encryption key
// (KEK) without revealing it: HMAC-SHA256(KEK, "tvd-master store KEK check
// v1"), as 64 lower-case hex digits. A replicated store records it when it
// is created; a replica that opens the store with another KEK is refused
// (it could not unwrap the disk keys the others wrap, and would wrap new
// ones nobody else can). The KEK itself is never stored.
#pragma once

#include <string>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::master {

// InvalidArgument "master KEK must be 32 bytes" for any other size;
// Internal when OpenSSL fails.
StatusOr<std::string> KekCheckValue(const SecureBytes& kek);

}  // namespace tvd::master
