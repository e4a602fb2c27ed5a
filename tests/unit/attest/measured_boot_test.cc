#include "tvd/attest/measured_boot.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "event_log_test_data.h"
#include "tvd/attest/event_log_builder.h"

namespace tvd::attest {
namespace {

using event_log_test::Bytes;
using event_log_test::PutU32;

// eventlog_locality3.bin (see event_log_test.cc): written by an independent
// generator. Its events, with their byte offsets:
//   1 @69 PCR 0 StartupLocality        12-17 @1181.. separators PCRs 2-7
//   2 @158 PCR 0 EV_S_CRTM_VERSION     18 @1637 PCR 4 app, sha256("shim")
//   3 @238 PCR 0 firmware blob,        19 @1741 PCR 4 app, sha256("grub")
//          sha256("firmware volume")   20 @1845 PCR 4 app, sha256("kernel")
//   4 @326 PCR 7 SecureBoot = 01       21 @1949 PCR 9 EV_IPL
//   5 @451 PCR 7 PK = "pk-list"        22 @2045 PCR 5 EV_EFI_ACTION
//   6 @566 PCR 7 KEK = "kek-list"
//   7 @684 PCR 7 db = "db-list"
//   8 @799 PCR 7 dbx = "dbx-list"
//   9 @917 PCR 4 EV_EFI_ACTION
//  10 @1029 PCR 0 separator, 11 @1105 PCR 1 separator
// Each event: u32 PCR, u32 type, u32 count, SHA-1 (2 + 20 bytes), SHA-256
// (2 + 32 bytes), u32 size, data: the data starts 72 bytes in.
Bytes ReadLog() {
  std::ifstream in(std::string(TVD_SOURCE_DIR) +
                       "/tests/unit/attest/data/eventlog_locality3.bin",
                   std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

constexpr std::size_t kSecureBootEvent = 326;
constexpr std::size_t kDbxEvent = 799;
constexpr std::size_t kSeparator0Event = 1029;
constexpr std::size_t kGrubEvent = 1741;
constexpr std::size_t kKernelEvent = 1845;
constexpr std::size_t kIplEvent = 1949;

std::uint32_t GetU32(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | (b[at + 1] << 8) |
         (b[at + 2] << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}
std::span<std::uint8_t> DataOf(Bytes& b, std::size_t event) {
  return std::span<std::uint8_t>(b).subspan(event + 72, GetU32(b, event + 68));
}
// What firmware that really measured the edited data would have logged
// (the SHA-1 digest is left alone: nothing reads it).
void Remeasure(Bytes& b, std::size_t event) {
  Sha256Digest d = Sha256(DataOf(b, event));
  std::copy(d.begin(), d.end(), b.begin() + event + 36);
}

MeasuredBootPolicy GoodPolicy() {
  MeasuredBootPolicy p;
  p.firmware = {Sha256("firmware volume")};
  p.shim = {Sha256("shim")};
  p.bootloader = {Sha256("grub")};
  p.kernel = {Sha256("kernel")};
  p.require_secure_boot = true;
  p.pk = {Sha256("pk-list")};
  p.kek = {Sha256("kek-list")};
  p.db = {Sha256("db-list")};
  p.dbx = {Sha256("dbx-list")};
  return p;
}

Status Check(const Bytes& b, const MeasuredBootPolicy& p) {
  auto log = ParseEventLog(b);
  if (!log.ok()) return log.status();
  return CheckMeasuredBoot(*log, p);
}

std::string H(std::string_view s) { return ToHex(Sha256(s)); }

TEST(MeasuredBootTest, AcceptsAGoodLog) {
  Status s = Check(ReadLog(), GoodPolicy());
  EXPECT_TRUE(s.ok()) << s.message();
  // Without the optional stages and lists.
  MeasuredBootPolicy p = GoodPolicy();
  p.dbx.clear();
  p.require_secure_boot = false;
  s = Check(ReadLog(), p);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(MeasuredBootTest, DisallowedBootloader) {
  MeasuredBootPolicy p = GoodPolicy();
  p.bootloader = {Sha256("grub 2.12")};
  Status s = Check(ReadLog(), p);
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log event 19 (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION): "
            "bootloader " +
                H("grub") + " is not allowed by the measured-boot policy");
}

TEST(MeasuredBootTest, ApplicationStages) {
  // No shim in the policy: the first application must be a boot loader.
  MeasuredBootPolicy p = GoodPolicy();
  p.shim.clear();
  EXPECT_EQ(Check(ReadLog(), p).message(),
            "event log event 18 (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION): "
            "bootloader " +
                H("shim") + " is not allowed by the measured-boot policy");
  // No kernel in the policy: a third application is one too many.
  p = GoodPolicy();
  p.kernel.clear();
  EXPECT_EQ(Check(ReadLog(), p).message(),
            "event log event 20 (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION): "
            "boot application " +
                H("kernel") +
                " follows every stage the measured-boot policy allows (shim, "
                "bootloader, kernel)");
  // The log cut before the kernel.
  Bytes b = ReadLog();
  b.resize(kKernelEvent);
  Status s = Check(b, GoodPolicy());
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log: no kernel in PCR 4 (the measured-boot policy requires "
            "one)");
}

TEST(MeasuredBootTest, DisallowedFirmware) {
  MeasuredBootPolicy p = GoodPolicy();
  p.firmware = {Sha256("firmware volume v2")};
  EXPECT_EQ(Check(ReadLog(), p).message(),
            "event log event 3 (PCR 0, EV_EFI_PLATFORM_FIRMWARE_BLOB): "
            "firmware " +
                H("firmware volume") +
                " is not allowed by the measured-boot policy");
}

TEST(MeasuredBootTest, TamperedVariableIsNamed) {
  // SecureBoot's value edited to 00 without its digest: the log still
  // replays to the quote, but the data no longer hashes to the digest.
  Bytes b = ReadLog();
  std::span<std::uint8_t> data = DataOf(b, kSecureBootEvent);
  std::string before = ToHex(Sha256(data));
  data.back() = 0;
  Status s = Check(b, GoodPolicy());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      s.message(),
      "event log event 4 (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG): digest " +
          before + " is not the SHA-256 of the event data (" +
          ToHex(Sha256(data)) + "): the log was altered");
}

TEST(MeasuredBootTest, RelabelledApplicationIsRefused) {
  // The boot loader's event relabelled so the application check skips it.
  Bytes b = ReadLog();
  PutU32(b, kGrubEvent + 4, ev::kEfiAction);
  MeasuredBootPolicy p = GoodPolicy();
  p.bootloader = {Sha256("kernel")};  // the kernel then looks second
  p.kernel.clear();
  Status s = Check(b, p);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "event log event 19 (PCR 4, EV_EFI_ACTION): digest " +
                             H("grub") +
                             " is not the SHA-256 of the event data (" +
                             ToHex(Sha256(DataOf(b, kGrubEvent))) +
                             "): the log was altered");
  // As a type the check does not know.
  PutU32(b, kGrubEvent + 4, 0x800000ff);
  s = Check(b, p);
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "event log event 19 (PCR 4, 0x800000ff): digest " +
                             H("grub") +
                             " is not listed for this PCR and type in the "
                             "measured-boot policy");
}

TEST(MeasuredBootTest, UnknownEventsNeedAListedDigest) {
  Bytes b = ReadLog();
  PutU32(b, kIplEvent, 1);  // EV_IPL moved from PCR 9 into PCR 1
  MeasuredBootPolicy p = GoodPolicy();
  Sha256Digest ipl = Sha256(DataOf(b, kIplEvent));
  EXPECT_EQ(Check(b, p).message(),
            "event log event 21 (PCR 1, EV_IPL): "
            "digest " +
                ToHex(ipl) +
                " is not listed for this PCR and type "
                "in the measured-boot policy");
  p.events.push_back({1, ev::kIpl, ipl});
  EXPECT_TRUE(Check(b, p).ok());
  // Listed for another PCR or type: not enough.
  p.events = {{2, ev::kIpl, ipl}, {1, ev::kAction + 100, ipl}};
  EXPECT_FALSE(Check(b, p).ok());
  // Events above PCR 7 are not judged (nor replayed).
  EXPECT_TRUE(Check(ReadLog(), GoodPolicy()).ok());
}

TEST(MeasuredBootTest, SecureBootDisabled) {
  Bytes b = ReadLog();
  DataOf(b, kSecureBootEvent).back() = 0;
  Remeasure(b, kSecureBootEvent);
  Status s = Check(b, GoodPolicy());
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log: Secure Boot is not enabled (SecureBoot is 00)");
  MeasuredBootPolicy p = GoodPolicy();
  p.require_secure_boot = false;
  EXPECT_TRUE(Check(b, p).ok());
}

TEST(MeasuredBootTest, SecureBootKeys) {
  MeasuredBootPolicy p = GoodPolicy();
  p.pk = {Sha256("another PK")};
  EXPECT_EQ(Check(ReadLog(), p).message(),
            "event log event 5 (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG): PK "
            "value " +
                H("pk-list") + " is not allowed by the measured-boot policy");
  // dbx renamed (and measured as such): no dbx at all.
  Bytes b = ReadLog();
  std::span<std::uint8_t> data = DataOf(b, kDbxEvent);
  data[32 + 4] = 'y';  // "dbx" -> "dby" (UCS-2)
  Remeasure(b, kDbxEvent);
  EXPECT_EQ(Check(b, GoodPolicy()).message(),
            "event log: no dbx variable is measured in PCR 7 (the "
            "measured-boot policy lists allowed values)");
  p = GoodPolicy();
  p.dbx.clear();
  EXPECT_TRUE(Check(b, p).ok());
  // A second SecureBoot measurement, still before the separator.
  b = ReadLog();
  Bytes twice(b.begin() + kSecureBootEvent, b.begin() + 451);
  b.insert(b.begin() + 451, twice.begin(), twice.end());
  Status s = Check(b, GoodPolicy());
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log event 5 (PCR 7, "
            "EV_EFI_VARIABLE_DRIVER_CONFIG): a second SecureBoot "
            "variable (the first is event 4)");
  // The same extended after boot, behind the separator.
  b = ReadLog();
  b.insert(b.end(), twice.begin(), twice.end());
  EXPECT_EQ(Check(b, GoodPolicy()).message(),
            "event log event 23 (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG): "
            "SecureBoot is measured after the PCR 7 separator (event 17), "
            "not by the firmware");
}

TEST(MeasuredBootTest, MalformedVariable) {
  Bytes b = ReadLog();
  std::span<std::uint8_t> data = DataOf(b, kSecureBootEvent);
  data[16] = 11;  // name of 11 characters instead of 10
  Remeasure(b, kSecureBootEvent);
  Status s = Check(b, GoodPolicy());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "event log event 4 (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG): "
            "UEFI_VARIABLE_DATA sizes (name 11 characters, value 1 bytes) do "
            "not add up to its 53 bytes");
  EXPECT_EQ(
      ParseUefiVariable(std::span<const std::uint8_t>(data.data(), 31))
          .status()
          .message(),
      "UEFI_VARIABLE_DATA of 31 bytes is shorter than its 32-byte header");
  // Lengths near 2^64 must not wrap around.
  for (int i = 16; i < 32; ++i) data[i] = 0xff;
  EXPECT_FALSE(ParseUefiVariable(data).ok());
}

TEST(MeasuredBootTest, SeparatorReportingAnError) {
  Bytes b = ReadLog();
  for (std::uint8_t& c : DataOf(b, kSeparator0Event)) c = 0xff;
  Remeasure(b, kSeparator0Event);
  Status s = Check(b, GoodPolicy());
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log event 10 (PCR 0, EV_SEPARATOR): separator ffffffff "
            "reports a firmware error");
}

TEST(MeasuredBootTest, VariableBootMayHashTheValueOnly) {
  // EDK2 measures Boot#### (EV_EFI_VARIABLE_BOOT) with the digest of the
  // value alone. The KEK event serves as one here.
  Bytes b = ReadLog();
  PutU32(b, 566 + 4, ev::kEfiVariableBoot);
  Sha256Digest value = Sha256("kek-list");
  std::copy(value.begin(), value.end(), b.begin() + 566 + 36);
  MeasuredBootPolicy p = GoodPolicy();
  p.kek.clear();
  Status s = Check(b, p);
  EXPECT_TRUE(s.ok()) << s.message();
  // Any other digest is still refused.
  b[566 + 36] ^= 1;
  EXPECT_EQ(Check(b, p).code(), ErrorCode::kInvalidArgument);
}

TEST(MeasuredBootTest, DraftFromAKnownGoodLog) {
  Bytes b = ReadLog();
  auto log = ParseEventLog(b);
  ASSERT_TRUE(log.ok());
  auto draft = DraftMeasuredBootPolicy(*log);
  ASSERT_TRUE(draft.ok()) << draft.status().message();
  MeasuredBootPolicy good = GoodPolicy();
  EXPECT_EQ(draft->firmware, good.firmware);
  EXPECT_EQ(draft->shim, good.shim);
  EXPECT_EQ(draft->bootloader, good.bootloader);
  EXPECT_EQ(draft->kernel, good.kernel);
  EXPECT_TRUE(draft->require_secure_boot);
  EXPECT_EQ(draft->pk, good.pk);
  EXPECT_EQ(draft->kek, good.kek);
  EXPECT_EQ(draft->db, good.db);
  EXPECT_EQ(draft->dbx, good.dbx);
  EXPECT_TRUE(draft->events.empty());

  // Two applications: a boot loader and a kernel, no shim.
  Bytes no_shim = ReadLog();
  no_shim.erase(no_shim.begin() + 1637, no_shim.begin() + kGrubEvent);
  log = ParseEventLog(no_shim);
  ASSERT_TRUE(log.ok());
  draft = DraftMeasuredBootPolicy(*log);
  ASSERT_TRUE(draft.ok()) << draft.status().message();
  EXPECT_TRUE(draft->shim.empty());
  EXPECT_EQ(draft->bootloader, good.bootloader);
  EXPECT_EQ(draft->kernel, good.kernel);

  // A tampered log drafts nothing.
  Bytes tampered = ReadLog();
  DataOf(tampered, kSecureBootEvent).back() = 0;
  log = ParseEventLog(tampered);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(DraftMeasuredBootPolicy(*log).status().code(),
            ErrorCode::kInvalidArgument);

  // Four applications.
  Bytes four = ReadLog();
  Bytes kernel(four.begin() + kKernelEvent, four.begin() + kIplEvent);
  four.insert(four.end(), kernel.begin(), kernel.end());
  log = ParseEventLog(four);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(DraftMeasuredBootPolicy(*log).status().message(),
            "event log: PCR 4 has 4 boot applications; a measured-boot policy "
            "allows at most 3 (shim, bootloader, kernel)");
}

TEST(MeasuredBootTest, SecureBootConfigurationComesBeforeTheSeparator) {
  // Firmware that measured no SecureBoot variable, and an OS that extended
  // "SecureBoot = 01" into PCR 7 after boot: the log replays, but the value
  // is not the firmware's.
  const std::uint8_t on[] = {1};
  EventLogBuilder b;
  b.FirmwareBlob("fw")
      .SecureBootVariable("PK", "pk")
      .SecureBootVariable("KEK", "kek");
  b.SecureBootVariable("db", "db");
  for (std::uint32_t pcr = 0; pcr < 8; ++pcr) b.Separator(pcr);
  b.BootApplication("grub");
  b.SecureBootVariable("SecureBoot", on);
  MeasuredBootPolicy p;
  p.firmware = {Sha256("fw")};
  p.bootloader = {Sha256("grub")};
  p.require_secure_boot = true;
  p.pk = {Sha256("pk")};
  p.kek = {Sha256("kek")};
  p.db = {Sha256("db")};
  auto log = ParseEventLog(b.bytes());
  ASSERT_TRUE(log.ok());
  Status s = CheckMeasuredBoot(*log, p);
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log event 14 (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG): "
            "SecureBoot is measured after the PCR 7 separator (event 12), "
            "not by the firmware");
  // Without any PCR 7 separator, nothing in PCR 7 can be placed.
  EventLogBuilder no_separator;
  no_separator.FirmwareBlob("fw")
      .SecureBootVariable("SecureBoot", on)
      .SecureBootVariable("PK", "pk")
      .SecureBootVariable("KEK", "kek")
      .SecureBootVariable("db", "db")
      .BootApplication("grub");
  log = ParseEventLog(no_separator.bytes());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(CheckMeasuredBoot(*log, p).message(),
            "event log: no separator in PCR 7, so the firmware's Secure Boot "
            "configuration cannot be told from later measurements");
  // A policy that does not judge PCR 7 does not need it.
  MeasuredBootPolicy code_only;
  code_only.firmware = p.firmware;
  code_only.bootloader = p.bootloader;
  EXPECT_TRUE(CheckMeasuredBoot(*log, code_only).ok());
}

}  // namespace
}  // namespace tvd::attest
