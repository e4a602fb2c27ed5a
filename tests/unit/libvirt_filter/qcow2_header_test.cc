// The qcow2 header parser on headers written by hand, one corner at a time.
#include "tvd/libvirt_filter/qcow2_header.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tvd::libvirt_filter {
namespace {

void Put32(std::string& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    b[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  }
}

void Put64(std::string& b, std::size_t at, std::uint64_t v) {
  Put32(b, at, static_cast<std::uint32_t>(v >> 32));
  Put32(b, at + 4, static_cast<std::uint32_t>(v));
}

// A qcow2 header as qemu-img lays it out: header, extensions, end marker,
// then the backing file name; every field can be bent for a test.
struct Spec {
  std::uint32_t version = 3;
  std::uint32_t cluster_bits = 16;
  std::uint32_t crypt_method = 0;
  std::uint64_t incompatible = 0;
  std::uint32_t header_length = 112;
  std::vector<std::pair<std::uint32_t, std::string>> extensions;
  bool end_marker = true;
  std::optional<std::string> backing;
  std::optional<std::uint64_t> backing_offset;  // default: after extensions
  std::optional<std::uint32_t> backing_size;    // default: backing's length
  std::size_t total = 4096;                     // bytes of the image
};

std::string Build(const Spec& s) {
  std::string b(s.total, '\0');
  Put32(b, 0, 0x514649fb);
  Put32(b, 4, s.version);
  Put32(b, 20, s.cluster_bits);
  Put64(b, 24, 1 << 20);
  Put32(b, 32, s.crypt_method);
  std::size_t at = 72;
  if (s.version == 3) {
    Put64(b, 72, s.incompatible);
    Put32(b, 96, 4);
    Put32(b, 100, s.header_length);
    at = s.header_length;
  }
  for (const auto& [type, data] : s.extensions) {
    Put32(b, at, type);
    Put32(b, at + 4, static_cast<std::uint32_t>(data.size()));
    b.replace(at + 8, data.size(), data);
    at += 8 + ((data.size() + 7) & ~std::size_t{7});
  }
  if (s.end_marker) at += 8;  // type 0, length 0
  if (s.backing.has_value()) {
    std::uint64_t offset = s.backing_offset.value_or(at);
    Put64(b, 8, offset);
    Put32(
        b, 16,
        s.backing_size.value_or(static_cast<std::uint32_t>(s.backing->size())));
    if (offset + s.backing->size() <= b.size()) {
      b.replace(offset, s.backing->size(), *s.backing);
    }
  }
  return b;
}

constexpr std::uint32_t kBackingFormat = 0xe2792aca;
constexpr std::uint32_t kDataFile = 0x44415441;

Spec WithBacking(std::string name, std::string format) {
  Spec s;
  s.extensions = {{kBackingFormat, std::move(format)}};
  s.backing = std::move(name);
  return s;
}

std::string Error(const Spec& s) {
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  EXPECT_FALSE(h.ok());
  if (h.ok()) return "parsed";
  EXPECT_EQ(h.status().code(), ErrorCode::kInvalidArgument);
  return h.status().message();
}

TEST(Qcow2HeaderTest, ReadsBackingFileAndFormatOfVersion3) {
  StatusOr<Qcow2Header> h =
      ParseQcow2Header(Build(WithBacking("base.qcow2", "qcow2")));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->cluster_bits, 16u);
  EXPECT_EQ(h->backing_file, "base.qcow2");
  EXPECT_EQ(h->backing_format, "qcow2");
  EXPECT_FALSE(h->data_file.has_value());
  EXPECT_FALSE(h->UsesExternalDataFile());
}

TEST(Qcow2HeaderTest, ReadsVersion2) {
  Spec s = WithBacking("/var/lib/tvd/blue/base.img", "raw");
  s.version = 2;
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->version, 2u);
  EXPECT_EQ(h->backing_file, "/var/lib/tvd/blue/base.img");
  EXPECT_EQ(h->backing_format, "raw");
}

TEST(Qcow2HeaderTest, NoBackingFileNoExtensions) {
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(Spec{}));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->backing_file.has_value());
  EXPECT_FALSE(h->backing_format.has_value());
}

TEST(Qcow2HeaderTest, MissingFormatExtensionIsReportedAsAbsent) {
  Spec s;
  s.backing = "base.qcow2";
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->backing_file, "base.qcow2");
  EXPECT_FALSE(h->backing_format.has_value());
}

TEST(Qcow2HeaderTest, UnknownExtensionsAreSkipped) {
  Spec s = WithBacking("b", "qcow2");
  s.extensions.insert(s.extensions.begin(),
                      {0x6803f857, std::string(48 * 3, 'x')});
  s.extensions.push_back({0x12345678, "abc"});
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->backing_format, "qcow2");
  EXPECT_EQ(h->backing_file, "b");
}

TEST(Qcow2HeaderTest, ExternalDataFileExtensionIsReported) {
  Spec s;
  s.extensions = {{kDataFile, "/etc/shadow"}};
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->data_file, "/etc/shadow");
  EXPECT_TRUE(h->UsesExternalDataFile());
}

TEST(Qcow2HeaderTest, ExternalDataFileBitIsReported) {
  Spec s;
  s.incompatible = kQcow2IncompatibleDataFile;
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->data_file.has_value());
  EXPECT_TRUE(h->UsesExternalDataFile());
}

TEST(Qcow2HeaderTest, KnownIncompatibleBitsAreAccepted) {
  Spec s;
  s.incompatible = kQcow2IncompatibleDirty | kQcow2IncompatibleCompression |
                   kQcow2IncompatibleExtendedL2;
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->incompatible_features, 0x19u);
}

TEST(Qcow2HeaderTest, RefusesUnknownIncompatibleBits) {
  Spec s;
  s.incompatible = 0x21;
  EXPECT_EQ(Error(s),
            "qcow2 header: incompatible_features at offset 72 has unknown "
            "bits 0x20");
}

TEST(Qcow2HeaderTest, RefusesWrongMagic) {
  std::string b = Build(Spec{});
  b[3] = 'x';
  StatusOr<Qcow2Header> h = ParseQcow2Header(b);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "qcow2 header: magic at offset 0 is 0x51464978, not QFI\\xfb");
}

TEST(Qcow2HeaderTest, RefusesOtherVersions) {
  Spec s;
  s.version = 4;
  EXPECT_EQ(Error(s),
            "qcow2 header: version at offset 4 is 4 (only 2 and 3 are read)");
}

TEST(Qcow2HeaderTest, RefusesClusterSizesQemuWouldNotOpen) {
  Spec s;
  s.cluster_bits = 8;
  EXPECT_EQ(Error(s),
            "qcow2 header: cluster_bits at offset 20 is 8 (must be 9 to 21)");
  s.cluster_bits = 22;
  EXPECT_EQ(Error(s),
            "qcow2 header: cluster_bits at offset 20 is 22 (must be 9 to 21)");
}

TEST(Qcow2HeaderTest, RefusesUnknownEncryption) {
  Spec s;
  s.crypt_method = 3;
  EXPECT_EQ(Error(s),
            "qcow2 header: crypt_method at offset 32 is 3 (unknown method)");
}

TEST(Qcow2HeaderTest, RefusesBadHeaderLength) {
  Spec s;
  s.header_length = 100;
  EXPECT_EQ(Error(s),
            "qcow2 header: header_length at offset 100 is 100 (must be a "
            "multiple of 8, at least 104)");
  s.header_length = 108;
  EXPECT_EQ(Error(s),
            "qcow2 header: header_length at offset 100 is 108 (must be a "
            "multiple of 8, at least 104)");
  s.header_length = 1024;
  s.cluster_bits = 9;
  EXPECT_EQ(Error(s),
            "qcow2 header: header_length at offset 100 is 1024, more than the "
            "cluster size 512");
}

TEST(Qcow2HeaderTest, RefusesTruncatedHeaders) {
  std::string b = Build(Spec{});
  for (auto [size, message] : std::vector<std::pair<std::size_t, std::string>>{
           {3,
            "qcow2 header: magic and version at offset 0 runs past the "
            "end of the image (3 bytes)"},
           {60,
            "qcow2 header: header at offset 0 (72 bytes) runs past the "
            "end of the image (60 bytes)"},
           {100,
            "qcow2 header: version 3 header at offset 0 (104 bytes) "
            "runs past the end of the image (100 bytes)"},
           {108,
            "qcow2 header: header of header_length 112 at offset 0 "
            "runs past the end of the image (108 bytes)"},
           {116,
            "qcow2 header: header extension at offset 112 runs past "
            "the end of the image (116 bytes)"}}) {
    StatusOr<Qcow2Header> h = ParseQcow2Header(b.substr(0, size));
    ASSERT_FALSE(h.ok()) << size;
    EXPECT_EQ(h.status().message(), message);
  }
}

TEST(Qcow2HeaderTest, RefusesBackingNameOverlappingTheHeader) {
  Spec s = WithBacking("base", "qcow2");
  s.backing_offset = 64;
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 64 overlaps the "
            "header (112 bytes)");
}

TEST(Qcow2HeaderTest, RefusesBackingNameOutsideTheFirstCluster) {
  Spec s = WithBacking("base", "qcow2");
  s.cluster_bits = 9;
  s.backing_offset = 1024;
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 1024 is outside the "
            "first cluster (512 bytes)");
  s.backing_offset = 510;
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 510 (4 bytes) runs "
            "past the first cluster (512 bytes)");
}

TEST(Qcow2HeaderTest, RefusesBackingNamePastTheRead) {
  Spec s = WithBacking("base", "qcow2");
  s.cluster_bits = 20;
  s.total = kQcow2HeaderReadBytes + 100;
  s.backing_offset = kQcow2HeaderReadBytes - 2;
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 65534 runs past the "
            "64 KiB read");
}

TEST(Qcow2HeaderTest, RefusesBackingNamePastTheEndOfTheImage) {
  Spec s = WithBacking("base", "qcow2");
  s.total = 200;
  s.backing_offset = 198;
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 198 runs past the end "
            "of the image (200 bytes)");
}

TEST(Qcow2HeaderTest, RefusesEmptyLongAndNulBackingNames) {
  Spec s = WithBacking("", "qcow2");
  EXPECT_EQ(Error(s), "qcow2 header: backing file name at offset 136 is empty");
  s = WithBacking(std::string(1024, 'a'), "qcow2");
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 136 is 1024 bytes long "
            "(at most 1023)");
  s = WithBacking(std::string("base\0/etc/shadow", 16), "qcow2");
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file name at offset 136 holds a NUL byte");
}

TEST(Qcow2HeaderTest, AcceptsLongestBackingName) {
  StatusOr<Qcow2Header> h =
      ParseQcow2Header(Build(WithBacking(std::string(1023, 'a'), "qcow2")));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->backing_file->size(), 1023u);
}

TEST(Qcow2HeaderTest, RefusesExtensionRunningIntoTheBackingName) {
  Spec s = WithBacking("base", "qcow2");
  s.end_marker = false;
  s.backing_offset = 124;  // inside the format extension's 16 bytes
  EXPECT_EQ(Error(s),
            "qcow2 header: header extension 0xe2792aca at offset 112 (5 "
            "bytes) runs past the end of the extension area (offset 124)");
}

TEST(Qcow2HeaderTest, RefusesExtensionHeaderCutByTheBackingName) {
  Spec s = WithBacking("base", "qcow2");
  s.end_marker = false;
  s.backing_offset = 132;  // 4 bytes after the format extension
  EXPECT_EQ(Error(s),
            "qcow2 header: header extension at offset 128 runs past the end "
            "of the extension area (offset 132)");
}

TEST(Qcow2HeaderTest, ExtensionAreaMayEndAtTheBackingNameWithoutMarker) {
  Spec s = WithBacking("base", "qcow2");
  s.end_marker = false;
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->backing_file, "base");
  EXPECT_EQ(h->backing_format, "qcow2");
}

TEST(Qcow2HeaderTest, RefusesExtensionsPastTheRead) {
  // No end marker anywhere in the first 64 KiB of a 2 MiB cluster: unknown
  // extensions fill the whole read.
  Spec s;
  s.cluster_bits = 21;
  s.total = kQcow2HeaderReadBytes;
  std::string filler(4096 - 8, 'f');
  for (std::size_t at = 112; at + 4096 <= kQcow2HeaderReadBytes; at += 4096) {
    s.extensions.push_back({0x11111111, filler});
  }
  s.end_marker = false;
  std::string b = Build(s);
  // Fill the remaining tail with one more extension header that runs past.
  std::size_t tail = 112 + 4096 * s.extensions.size();
  Put32(b, tail, 0x11111111);
  Put32(b, tail + 4, 4096);
  StatusOr<Qcow2Header> h = ParseQcow2Header(b);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "qcow2 header: header extension 0x11111111 at offset " +
                std::to_string(tail) + " runs past the 64 KiB read");
}

TEST(Qcow2HeaderTest, RefusesDuplicateStringExtensions) {
  Spec s = WithBacking("base", "qcow2");
  s.extensions.push_back({kBackingFormat, "raw"});
  EXPECT_EQ(Error(s),
            "qcow2 header: second backing file format extension at offset "
            "128");
  s = Spec{};
  s.extensions = {{kDataFile, "a"}, {kDataFile, "b"}};
  EXPECT_EQ(Error(s),
            "qcow2 header: second external data file extension at offset "
            "128");
}

TEST(Qcow2HeaderTest, RefusesOverlongBackingFormat) {
  Spec s = WithBacking("base", std::string(16, 'q'));
  EXPECT_EQ(Error(s),
            "qcow2 header: backing file format extension at offset 112 is 16 "
            "bytes long (at most 15)");
}

TEST(Qcow2HeaderTest, LongerInputIsCutAtTheRead) {
  Spec s = WithBacking("base", "qcow2");
  s.total = kQcow2HeaderReadBytes * 2;
  StatusOr<Qcow2Header> h = ParseQcow2Header(Build(s));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->backing_file, "base");
}

TEST(Qcow2HeaderTest, PrintableBytesEscapesEverythingElse) {
  EXPECT_EQ(PrintableBytes(std::string("a\0b\n\\\xff", 6)),
            "a\\x00b\\x0a\\x5c\\xff");
}

}  // namespace
}  // namespace tvd::libvirt_filter
