// Keys at rest (disk keys, vTPM state keys, and each TVD's key of its
// current epoch, which
// replicas share through the store): AES-256-GCM under the master's
// key-encryption key (KEK).
//
// The KEK is 32 raw bytes in a file that must be a regular file of mode
// 0600 (or stricter) owned by the master's user; anything else is refused so
// a world-readable KEK is noticed at start-up. Wrapped form:
//   12-byte random IV || ciphertext || 16-byte tag, with the additional data
//   "tvd-disk-key" || 0x00 || tvd || 0x00 || vm || 0x00 (a TVD key:
//   "tvd-epoch-key", tvd, the epoch in decimal), so a wrapped key copied to
//   another row, epoch or purpose does not unwrap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::master {

inline constexpr std::size_t kKekSize = 32;

// PermissionDenied "KEK file PATH has mode 0644; it must not be readable by
// group or others"; InvalidArgument "KEK file PATH holds N bytes, expected
// 32"; IoError when it cannot be read.
StatusOr<SecureBytes> LoadKek(const std::string& path);

std::vector<std::uint8_t> WrapDiskKey(const SecureBytes& kek,
                                      std::string_view tvd, std::string_view vm,
                                      const SecureBytes& key);

// Unauthenticated "disk key of TVD/VM does not unwrap (wrong KEK or
// tampered row)" on any mismatch.
StatusOr<SecureBytes> UnwrapDiskKey(const SecureBytes& kek,
                                    std::string_view tvd, std::string_view vm,
                                    std::span<const std::uint8_t> wrapped);

// A VM's vTPM state key: AAD "tvd-vtpm-key" || 0x00 || tvd || 0x00 || vm
// || 0x00, so neither a disk key nor another VM's vTPM key unwraps as it.
std::vector<std::uint8_t> WrapVtpmKey(const SecureBytes& kek,
                                      std::string_view tvd, std::string_view vm,
                                      const SecureBytes& key);

// Unauthenticated "vTPM key of TVD/VM does not unwrap (wrong KEK or
// tampered row)" on any mismatch.
StatusOr<SecureBytes> UnwrapVtpmKey(const SecureBytes& kek,
                                    std::string_view tvd, std::string_view vm,
                                    std::span<const std::uint8_t> wrapped);

std::vector<std::uint8_t> WrapTvdKey(const SecureBytes& kek,
                                     std::string_view tvd, std::uint64_t epoch,
                                     const SecureBytes& key);

// Unauthenticated "key of TVD X epoch N does not unwrap (wrong KEK or
// tampered row)" on any mismatch.
StatusOr<SecureBytes> UnwrapTvdKey(const SecureBytes& kek, std::string_view tvd,
                                   std::uint64_t epoch,
                                   std::span<const std::uint8_t> wrapped);

}  // namespace tvd::master
