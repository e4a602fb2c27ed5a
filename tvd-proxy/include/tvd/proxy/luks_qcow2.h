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

// The first step of CreateLuksQcow2, for whatever stands in for qemu-img
// (the hypervisor fake): checks the arguments and claims `path` by creating
// it exclusively with mode 0600. Returns the open descriptor (the caller
// closes it), InvalidArgument for a relative path or an empty passphrase,
// AlreadyExists when `path` exists.
StatusOr<int> ClaimNewDiskFile(const std::string& path,
                               const SecureBytes& passphrase);

}  // namespace tvd::proxy
