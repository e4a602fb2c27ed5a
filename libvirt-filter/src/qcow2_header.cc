#include "tvd/libvirt_filter/qcow2_header.h"

#include <cstdio>

namespace tvd::libvirt_filter {
namespace {

constexpr std::uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
constexpr std::size_t kV2HeaderBytes = 72;
constexpr std::size_t kV3MinHeaderBytes = 104;
constexpr std::uint32_t kMinClusterBits = 9;   // qcow2.txt
constexpr std::uint32_t kMaxClusterBits = 21;  // QEMU's 2 MiB limit
constexpr std::uint32_t kMaxCryptMethod = 2;   // LUKS
// QEMU keeps the backing format in a 16-byte buffer with its NUL.
constexpr std::size_t kMaxBackingFormatBytes = 15;

constexpr std::uint32_t kExtEnd = 0x00000000;
constexpr std::uint32_t kExtBackingFormat = 0xe2792aca;
constexpr std::uint32_t kExtDataFile = 0x44415441;

std::uint32_t Be32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  }
  return v;
}

std::uint64_t Be64(std::string_view b, std::size_t at) {
  return (static_cast<std::uint64_t>(Be32(b, at)) << 32) | Be32(b, at + 4);
}

std::string Hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Status Invalid(std::string what) {
  return InvalidArgument("qcow2 header: " + std::move(what));
}

// Why [at, at + length) is not inside the bytes given.
std::string PastEnd(std::string_view bytes) {
  if (bytes.size() >= kQcow2HeaderReadBytes) {
    return "runs past the " + std::to_string(kQcow2HeaderReadBytes / 1024) +
           " KiB read";
  }
  return "runs past the end of the image (" + std::to_string(bytes.size()) +
         " bytes)";
}

bool Fits(std::string_view bytes, std::uint64_t at, std::uint64_t length) {
  return at <= bytes.size() && length <= bytes.size() - at;
}

struct Extensions {
  std::optional<std::string> backing_format;
  std::optional<std::string> data_file;
};

// Walks the header extensions in [start, end): each is type (4), length
// (4), data, padding to a multiple of 8; type 0 ends the list. Reaching
// `end` without the end marker also ends it (as in QEMU).
StatusOr<Extensions> ReadExtensions(std::string_view bytes, std::uint64_t start,
                                    std::uint64_t end) {
  Extensions ext;
  std::uint64_t at = start;
  while (at < end) {
    if (end - at < 8) {
      return Invalid("header extension at offset " + std::to_string(at) +
                     " runs past the end of the extension area (offset " +
                     std::to_string(end) + ")");
    }
    if (!Fits(bytes, at, 8)) {
      return Invalid("header extension at offset " + std::to_string(at) + " " +
                     PastEnd(bytes));
    }
    std::uint32_t type = Be32(bytes, static_cast<std::size_t>(at));
    std::uint32_t length = Be32(bytes, static_cast<std::size_t>(at) + 4);
    if (type == kExtEnd) return ext;
    std::uint64_t data = at + 8;
    std::uint64_t padded = (static_cast<std::uint64_t>(length) + 7) & ~7ull;
    if (length > end - data) {
      return Invalid("header extension " + Hex(type) + " at offset " +
                     std::to_string(at) + " (" + std::to_string(length) +
                     " bytes) runs past the end of the extension area "
                     "(offset " +
                     std::to_string(end) + ")");
    }
    if (!Fits(bytes, data, length)) {
      return Invalid("header extension " + Hex(type) + " at offset " +
                     std::to_string(at) + " " + PastEnd(bytes));
    }
    std::string value(bytes.substr(static_cast<std::size_t>(data), length));
    if (type == kExtBackingFormat) {
      if (ext.backing_format.has_value()) {
        return Invalid("second backing file format extension at offset " +
                       std::to_string(at));
      }
      if (length > kMaxBackingFormatBytes) {
        return Invalid("backing file format extension at offset " +
                       std::to_string(at) + " is " + std::to_string(length) +
                       " bytes long (at most " +
                       std::to_string(kMaxBackingFormatBytes) + ")");
      }
      ext.backing_format = std::move(value);
    } else if (type == kExtDataFile) {
      if (ext.data_file.has_value()) {
        return Invalid("second external data file extension at offset " +
                       std::to_string(at));
      }
      ext.data_file = std::move(value);
    }
    // Other types (feature names, bitmaps, encryption header pointer,
    // unknown) point into the image itself or are names for messages.
    at = data + padded;
  }
  return ext;
}

}  // namespace

bool HasQcow2Magic(std::string_view bytes) {
  return bytes.size() >= 4 && Be32(bytes, 0) == kMagic;
}

std::optional<std::uint64_t> Qcow2VirtualSize(std::string_view bytes) {
  constexpr std::size_t kSizeOffset = 24;
  if (!HasQcow2Magic(bytes) || bytes.size() < kSizeOffset + 8) {
    return std::nullopt;
  }
  return Be64(bytes, kSizeOffset);
}

StatusOr<Qcow2Header> ParseQcow2Header(std::string_view bytes) {
  if (bytes.size() > kQcow2HeaderReadBytes) {
    bytes = bytes.substr(0, kQcow2HeaderReadBytes);
  }
  if (bytes.size() < 8) {
    return Invalid("magic and version at offset 0 " + PastEnd(bytes));
  }
  if (!HasQcow2Magic(bytes)) {
    return Invalid("magic at offset 0 is " + Hex(Be32(bytes, 0)) +
                   ", not QFI\\xfb");
  }
  Qcow2Header h;
  h.version = Be32(bytes, 4);
  if (h.version != 2 && h.version != 3) {
    return Invalid("version at offset 4 is " + std::to_string(h.version) +
                   " (only 2 and 3 are read)");
  }
  if (bytes.size() < kV2HeaderBytes) {
    return Invalid("header at offset 0 (" + std::to_string(kV2HeaderBytes) +
                   " bytes) " + PastEnd(bytes));
  }
  std::uint64_t backing_offset = Be64(bytes, 8);
  std::uint32_t backing_size = Be32(bytes, 16);
  h.cluster_bits = Be32(bytes, 20);
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    return Invalid("cluster_bits at offset 20 is " +
                   std::to_string(h.cluster_bits) + " (must be " +
                   std::to_string(kMinClusterBits) + " to " +
                   std::to_string(kMaxClusterBits) + ")");
  }
  const std::uint64_t cluster_size = std::uint64_t{1} << h.cluster_bits;
  h.crypt_method = Be32(bytes, 32);
  if (h.crypt_method > kMaxCryptMethod) {
    return Invalid("crypt_method at offset 32 is " +
                   std::to_string(h.crypt_method) + " (unknown method)");
  }

  std::uint64_t header_length = kV2HeaderBytes;
  if (h.version == 3) {
    if (bytes.size() < kV3MinHeaderBytes) {
      return Invalid("version 3 header at offset 0 (" +
                     std::to_string(kV3MinHeaderBytes) + " bytes) " +
                     PastEnd(bytes));
    }
    std::uint64_t incompatible = Be64(bytes, 72);
    if ((incompatible & ~kQcow2KnownIncompatibleFeatures) != 0) {
      return Invalid("incompatible_features at offset 72 has unknown bits " +
                     Hex(incompatible & ~kQcow2KnownIncompatibleFeatures));
    }
    h.incompatible_features = incompatible;
    header_length = Be32(bytes, 100);
    if (header_length < kV3MinHeaderBytes || header_length % 8 != 0) {
      return Invalid("header_length at offset 100 is " +
                     std::to_string(header_length) +
                     " (must be a multiple of 8, at least " +
                     std::to_string(kV3MinHeaderBytes) + ")");
    }
    if (header_length > cluster_size) {
      return Invalid(
          "header_length at offset 100 is " + std::to_string(header_length) +
          ", more than the cluster size " + std::to_string(cluster_size));
    }
    if (!Fits(bytes, 0, header_length)) {
      return Invalid("header of header_length " +
                     std::to_string(header_length) + " at offset 0 " +
                     PastEnd(bytes));
    }
  }

  // Extensions run from the end of the header to the backing file name, or
  // to the end of the first cluster when there is none.
  std::uint64_t extensions_end = cluster_size;
  if (backing_offset != 0) {
    if (backing_offset < header_length) {
      return Invalid("backing file name at offset " +
                     std::to_string(backing_offset) + " overlaps the header (" +
                     std::to_string(header_length) + " bytes)");
    }
    if (backing_offset > cluster_size) {
      return Invalid("backing file name at offset " +
                     std::to_string(backing_offset) +
                     " is outside the first cluster (" +
                     std::to_string(cluster_size) + " bytes)");
    }
    extensions_end = backing_offset;
  }
  TVD_ASSIGN_OR_RETURN(Extensions ext,
                       ReadExtensions(bytes, header_length, extensions_end));
  h.backing_format = std::move(ext.backing_format);
  h.data_file = std::move(ext.data_file);

  if (backing_offset != 0) {
    const std::string where =
        "backing file name at offset " + std::to_string(backing_offset);
    if (backing_size == 0) return Invalid(where + " is empty");
    if (backing_size > kQcow2MaxBackingNameBytes) {
      return Invalid(where + " is " + std::to_string(backing_size) +
                     " bytes long (at most " +
                     std::to_string(kQcow2MaxBackingNameBytes) + ")");
    }
    if (backing_size > cluster_size - backing_offset) {
      return Invalid(where + " (" + std::to_string(backing_size) +
                     " bytes) runs past the first cluster (" +
                     std::to_string(cluster_size) + " bytes)");
    }
    if (!Fits(bytes, backing_offset, backing_size)) {
      return Invalid(where + " " + PastEnd(bytes));
    }
    std::string name(
        bytes.substr(static_cast<std::size_t>(backing_offset), backing_size));
    if (name.find('\0') != std::string::npos) {
      return Invalid(where + " holds a NUL byte");
    }
    h.backing_file = std::move(name);
  }
  return h;
}

std::string PrintableBytes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

}  // namespace tvd::libvirt_filter
