// The LUKS passphrase of an encrypted VM disk, derived from the disk key
// the master releases.
//
// QEMU takes a LUKS passphrase only as valid UTF-8 ("Data from secret ...
// is not valid UTF-8"), and the disk key is 32 random bytes, so the key
// itself cannot be the passphrase. The passphrase is the key in lowercase
// hex (64 ASCII characters): no information is lost and anyone holding the
// key (an attested proxy) derives the same passphrase. It is built in
// SecureBytes, so it is wiped like the key.
#pragma once

#include "tvd/secure_bytes.h"

namespace tvd::proxy {

SecureBytes DiskPassphrase(const SecureBytes& disk_key);

}  // namespace tvd::proxy
