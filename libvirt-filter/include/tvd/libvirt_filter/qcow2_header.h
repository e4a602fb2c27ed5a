// Reading what a qcow2 image header says about other files.
//
// A qcow2 image names other host files in its own header: a backing file
// (with, in a header extension, the format to open it as) and an external
// data file. QEMU opens those files by name when it opens the image, so the
// relay reads the header itself (FileDiskImageChecker) before a tenant's
// domain may use the image. This is the parser for that header: pure, no
// I/O, fuzzed (tests/fuzz/qcow2).
//
// The format is QEMU's docs/interop/qcow2.txt (versions 2 and 3, all numbers
// big-endian). The parser is stricter than QEMU where QEMU would guess or
// silently take the last of two answers: an image the parser cannot read
// unambiguously is refused, never half understood.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::libvirt_filter {

// How much of an image the caller reads and hands to ParseQcow2Header. The
// header, its extensions and the backing file name all live in the first
// cluster; images written by qemu-img keep them in the first few hundred
// bytes. An image that puts any of them past this point is refused (QEMU
// would follow it; the relay will not read further to find out).
inline constexpr std::size_t kQcow2HeaderReadBytes = 64 * 1024;

// QEMU's own limit on the backing file name (docs/interop/qcow2.txt).
inline constexpr std::size_t kQcow2MaxBackingNameBytes = 1023;

// Incompatible feature bits this parser knows (qcow2.txt): 0 dirty,
// 1 corrupt, 2 external data file, 3 compression type, 4 extended L2.
inline constexpr std::uint64_t kQcow2IncompatibleDirty = 1u << 0;
inline constexpr std::uint64_t kQcow2IncompatibleCorrupt = 1u << 1;
inline constexpr std::uint64_t kQcow2IncompatibleDataFile = 1u << 2;
inline constexpr std::uint64_t kQcow2IncompatibleCompression = 1u << 3;
inline constexpr std::uint64_t kQcow2IncompatibleExtendedL2 = 1u << 4;
inline constexpr std::uint64_t kQcow2KnownIncompatibleFeatures = 0x1f;

struct Qcow2Header {
  std::uint32_t version = 0;                // 2 or 3
  std::uint32_t cluster_bits = 0;           // 9..21
  std::uint32_t crypt_method = 0;           // 0 none, 1 AES, 2 LUKS
  std::uint64_t incompatible_features = 0;  // only known bits
  // The backing file name exactly as written (not resolved, never empty,
  // no NUL byte), when the image has one.
  std::optional<std::string> backing_file;
  // The backing file format extension (0xE2792ACA), when present. Without
  // it QEMU probes the backing file's format from its content.
  std::optional<std::string> backing_format;
  // The external data file name extension (0x44415441), when present.
  std::optional<std::string> data_file;

  // True when the image keeps its data in another file: the external data
  // file feature bit or the external data file name extension.
  bool UsesExternalDataFile() const {
    return (incompatible_features & kQcow2IncompatibleDataFile) != 0 ||
           data_file.has_value();
  }
};

// True when `bytes` starts with the qcow2 magic "QFI\xfb".
bool HasQcow2Magic(std::string_view bytes);

// The virtual disk size (the big-endian `size` field at offset 24) when
// `bytes` starts with the qcow2 magic and holds that field; nullopt
// otherwise. Reads nothing else of the header (the quota's disk sizes need
// only this; ParseQcow2Header is the full check).
std::optional<std::uint64_t> Qcow2VirtualSize(std::string_view bytes);

// Parses the first bytes of an image: the whole file when it is shorter
// than kQcow2HeaderReadBytes, else exactly its first kQcow2HeaderReadBytes.
// InvalidArgument "qcow2 header: <what> at offset <n> <why>" for anything
// that is not a well-formed qcow2 v2/v3 header, among them: a wrong magic,
// another version, a cluster size QEMU would not open, an unknown
// encryption method, unknown incompatible feature bits, an extension that
// runs past the extension area or appears twice (backing format, data file),
// a backing format longer than 15 bytes, a backing file name that is empty,
// longer than 1023 bytes, overlaps the header or its extensions, holds a NUL
// byte or lies outside the first cluster; anything needed that lies past
// the bytes given is reported as running "past the end of the image (<n>
// bytes)" or "past the 64 KiB read".
StatusOr<Qcow2Header> ParseQcow2Header(std::string_view bytes);

// `s` with every byte outside printable ASCII written as \xNN, for error
// messages that quote names taken from an image.
std::string PrintableBytes(std::string_view s);

}  // namespace tvd::libvirt_filter
