// Creating a LUKS-encrypted qcow2 disk image with qemu-img, for encrypted
// VM disks the proxy creates on first attach.
//
// The passphrase reaches qemu-img through a pipe on its stdin (a secret
// object reading /dev/stdin): never in argv (which every user can read in
// /proc) and never in a file.
#pragma once

#include <cstdint>
#include <string>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::proxy {

// Creates `path` (absolute; exclusively, mode 0600) and formats it as a
// qcow2 of `size_mib` MiB with LUKS encryption under `passphrase`.
// AlreadyExists when `path` exists: an existing disk is never touched. On
// any failure the file is removed again.
Status CreateLuksQcow2(const std::string& path, std::uint64_t size_mib,
                       const SecureBytes& passphrase);

}  // namespace tvd::proxy
