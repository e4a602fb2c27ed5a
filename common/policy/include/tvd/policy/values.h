// Syntax of the values that appear in policies and VM configurations.
//
// Pure functions, shared by the parsers and by anyone who builds names at
// run time (e.g. a proxy naming ports after a TVD). None of them allocate
// more than their input; none throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tvd::policy {

// TVD and network names: [a-z][a-z0-9-]{0,30}, not ending in '-'.
bool IsTvdName(std::string_view s);

// VM (libvirt domain) names: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
bool IsVmName(std::string_view s);

// Certificate subjects ("CN=host-a,O=Example VDC"): 1..1024 printable ASCII
// characters, no leading or trailing space, containing at least one '='.
bool IsSubject(std::string_view s);

// Disk targets as libvirt names them (vda, sdb, xvda1): [a-z][a-z0-9]{1,15}.
bool IsDiskTarget(std::string_view s);

// Network interface names as the kernel allows them (at most 15 bytes):
// [A-Za-z0-9][A-Za-z0-9._-]{0,14}.
bool IsInterfaceName(std::string_view s);

// Absolute paths without NUL, control characters, "//" or "/../" tricks:
// '/' followed by 1..4095 printable characters, no "." or ".." component.
bool IsAbsolutePath(std::string_view s);

// RFC 4122 textual UUID, 8-4-4-4-12 hex digits (either case).
bool IsUuid(std::string_view s);

// Decimal integer without sign, spaces or leading zeros, in [min, max].
std::optional<std::uint64_t> ParseDecimal(std::string_view s, std::uint64_t min,
                                          std::uint64_t max);

// "true" or "false", exactly.
std::optional<bool> ParseBool(std::string_view s);

// An IPv4 or IPv6 prefix "ADDR/LEN" with no host bits set. Returns the
// normalized text (inet_ntop form, IPv6 lower-case) or nullopt.
std::optional<std::string> NormalizeCidr(std::string_view s);

}  // namespace tvd::policy
