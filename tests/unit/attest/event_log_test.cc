#include "tvd/attest/event_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event_log_test_data.h"
#include "tvd/policy/host_requirements_parser.h"
#include "tvd/testing/files.h"

namespace tvd::attest {
namespace {

using event_log_test::Bytes;
using event_log_test::PutU32;
using event_log_test::ReadData;

// Two logs written by an independent generator (a Python script following
// the PC Client PFP layout): a Spec ID header with SHA-1 and SHA-256, then
// 22 events (PCR 0 CRTM version and a firmware blob, PCR 7 Secure Boot
// variables, separators for PCRs 0-7, three boot applications in PCR 4, an
// EV_IPL in PCR 9, an EV_EFI_ACTION in PCR 5). The first also starts with a
// StartupLocality 3 event, the second does not.

Sha256Digest Hex(std::string_view hex) { return *Sha256FromHex(hex); }

// The SHA-256 bank as tpm2_eventlog (tpm2-tools 5.4) prints it for the log
// without a StartupLocality event.
const EventLogPcrs kNoLocalityPcrs = {
    Hex("e7be83695d565f0b25aee11c206322f3c3b59f3d7cef15f89ad06340cc65bee2"),
    Hex("3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"),
    Hex("3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"),
    Hex("3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"),
    Hex("549a12486c7642ffd633aebb3cd37d98bbbe2cbe956abd61dd5411414b22bdc2"),
    Hex("550428c2749e146c4b5ccf3e0095e308b939c381a47ed1e5946e7e2456673773"),
    Hex("3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"),
    Hex("712697466540ec2f555b3ae6ae24a8fbea37add956334d9093fdeca7ee9baf4a"),
};
// PCR 0 of the same events from a reset value of 00..03, computed with
// Python's hashlib. (tpm2-tools 5.4 does not honour StartupLocality: it
// extends the event's zero digest instead, and prints 0067a4ee...).
constexpr char kLocality3Pcr0[] =
    "de06013356aa82d3f22425062d32407f85a5a080b77905e4c86d031fe92e17fa";

// Offsets in eventlog_locality3.bin.
constexpr std::size_t kSpecIdData = 32;
constexpr std::size_t kEvent1 = 69;       // StartupLocality
constexpr std::size_t kEvent1Data = 141;  // its 17 bytes
constexpr std::size_t kEvent2 = 158;      // EV_S_CRTM_VERSION

std::string ErrorOf(const Bytes& b) {
  auto log = ParseEventLog(b);
  if (log.ok()) return "OK";
  EXPECT_EQ(log.status().code(), ErrorCode::kInvalidArgument);
  return log.status().message();
}

TEST(EventLogTest, ParsesACryptoAgileLog) {
  Bytes bytes = ReadData("eventlog_locality3.bin");
  ASSERT_EQ(bytes.size(), 2146u);
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_EQ(log->algorithms.size(), 2u);
  EXPECT_EQ(log->algorithms[0].id, kTpmAlgSha1);
  EXPECT_EQ(log->algorithms[0].digest_size, 20);
  EXPECT_EQ(log->algorithms[1].id, kTpmAlgSha256);
  EXPECT_EQ(log->algorithms[1].digest_size, 32);
  EXPECT_EQ(log->startup_locality, std::optional<std::uint8_t>(3));
  ASSERT_EQ(log->events.size(), 22u);
  const TcgEvent& locality = log->events[0];
  EXPECT_EQ(locality.number, 1u);
  EXPECT_EQ(locality.offset, kEvent1);
  EXPECT_EQ(locality.type, ev::kNoAction);
  EXPECT_EQ(locality.data.size(), 17u);
  const TcgEvent& version = log->events[1];
  EXPECT_EQ(version.offset, kEvent2);
  EXPECT_EQ(version.pcr, 0u);
  EXPECT_EQ(version.type, ev::kSCrtmVersion);
  EXPECT_EQ(version.sha256, Sha256(version.data));
  const TcgEvent& ipl = log->events[20];
  EXPECT_EQ(ipl.pcr, 9u);
  EXPECT_EQ(ipl.type, ev::kIpl);
  EXPECT_EQ(std::string(ipl.data.begin(), ipl.data.end()),
            std::string("grub_cmd linux /vmlinuz\0", 24));
}

TEST(EventLogTest, ReplayMatchesTpm2Tools) {
  Bytes bytes = ReadData("eventlog_no_locality.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->startup_locality, std::nullopt);
  EXPECT_EQ(ReplayEventLog(*log), kNoLocalityPcrs);
}

TEST(EventLogTest, StartupLocalitySetsPcr0ResetValue) {
  Bytes bytes = ReadData("eventlog_locality3.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EventLogPcrs pcrs = ReplayEventLog(*log);
  EXPECT_EQ(ToHex(pcrs[0]), kLocality3Pcr0);
  for (std::size_t i = 1; i < kEventLogPcrs; ++i) {
    EXPECT_EQ(pcrs[i], kNoLocalityPcrs[i]) << i;
  }
}

TEST(EventLogTest, ReplayAgainstQuote) {
  std::vector<PcrValue> quoted;
  for (std::uint32_t i = 0; i < kEventLogPcrs; ++i) {
    quoted.push_back({i, kNoLocalityPcrs[i]});
  }
  quoted.push_back({10, Sha256("ima")});  // ignored
  EXPECT_TRUE(CheckEventLogReplay(kNoLocalityPcrs, quoted).ok());

  std::vector<PcrValue> other = quoted;
  other[4].value[0] ^= 1;
  other[6].value[0] ^= 1;
  Status s = CheckEventLogReplay(kNoLocalityPcrs, other);
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log replay gives PCR 4 "
            "549a12486c7642ffd633aebb3cd37d98bbbe2cbe956abd61dd5411414b22bdc2 "
            "but the quoted PCR 4 is "
            "559a12486c7642ffd633aebb3cd37d98bbbe2cbe956abd61dd5411414b22bdc2");

  std::vector<PcrValue> missing(quoted.begin() + 1, quoted.end());
  s = CheckEventLogReplay(kNoLocalityPcrs, missing);
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log replay needs PCR 0 but the quote does not cover it");
}

TEST(EventLogTest, EveryTruncationIsAnError) {
  Bytes bytes = ReadData("eventlog_locality3.bin");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Bytes prefix(bytes.begin(), bytes.begin() + n);
    auto log = ParseEventLog(prefix);
    // A cut exactly between two events is a shorter, valid log.
    if (log.ok()) {
      EXPECT_GE(n, kEvent1) << n;
      continue;
    }
    EXPECT_EQ(log.status().code(), ErrorCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(ErrorOf({}), "event log: empty");
  EXPECT_EQ(ErrorOf(Bytes(bytes.begin(), bytes.begin() + 20)),
            "event log event 0 at byte 0: truncated in the header");
  EXPECT_EQ(ErrorOf(Bytes(bytes.begin(), bytes.begin() + 60)),
            "event log event 0 at byte 0: truncated in the event data");
  EXPECT_EQ(ErrorOf(Bytes(bytes.begin(), bytes.begin() + kEvent1 + 2)),
            "event log event 1 at byte 69: truncated in the PCR index");
  EXPECT_EQ(ErrorOf(Bytes(bytes.begin(), bytes.begin() + kEvent1 + 80)),
            "event log event 1 at byte 69: truncated in the event data");
  EXPECT_EQ(ErrorOf(Bytes(bytes.begin(), bytes.begin() + kEvent2 + 40)),
            "event log event 2 at byte 158: truncated in the digest list");
}

TEST(EventLogTest, OversizedInput) {
  Bytes big(kMaxEventLogBytes + 1, 0);
  EXPECT_EQ(ErrorOf(big),
            "event log: 1048577 bytes exceed the maximum of "
            "1048576");

  Bytes bytes = ReadData("eventlog_locality3.bin");
  Bytes b = bytes;
  PutU32(b, 28, kMaxEventDataBytes + 1);
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: data size 262145 exceeds the "
            "262144-byte maximum");
  b = bytes;
  PutU32(b, kEvent1Data - 4, kMaxEventDataBytes + 1);
  EXPECT_EQ(ErrorOf(b),
            "event log event 1 at byte 69: data size 262145 exceeds the "
            "262144-byte maximum");

  // kMaxEventLogEvents events fit, one more does not. Appended copies of
  // the last event (PCR 5, EV_EFI_ACTION, 101 bytes).
  Bytes many = bytes;
  Bytes last(bytes.end() - 101, bytes.end());
  for (std::size_t i = 22; i < kMaxEventLogEvents; ++i) {
    many.insert(many.end(), last.begin(), last.end());
  }
  auto log = ParseEventLog(many);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->events.size(), kMaxEventLogEvents);
  many.insert(many.end(), last.begin(), last.end());
  EXPECT_EQ(ErrorOf(many), "event log: more than 4096 events");
}

TEST(EventLogTest, HeaderErrors) {
  Bytes bytes = ReadData("eventlog_locality3.bin");
  const std::string kNotAgile =
      "event log event 0 at byte 0: the first event is not a Spec ID "
      "Event03 (only crypto-agile logs are accepted: the quote is over the "
      "SHA-256 bank)";
  Bytes b = bytes;
  PutU32(b, 4, ev::kSeparator);  // a SHA-1-only log starts with a measurement
  EXPECT_EQ(ErrorOf(b), kNotAgile);
  b = bytes;
  b[kSpecIdData + 14] = '2';  // "Spec ID Event02"
  EXPECT_EQ(ErrorOf(b), kNotAgile);
  b = bytes;
  b[kSpecIdData + 23] = 8;  // uintnSize
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: Spec ID uintnSize 8 is neither 1 "
            "nor 2");
  b = bytes;
  PutU32(b, kSpecIdData + 24, 0);
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: Spec ID lists 0 algorithms; 1..8 "
            "are accepted");
  b = bytes;
  PutU32(b, kSpecIdData + 24, 1000000);
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: Spec ID lists 1000000 algorithms; "
            "1..8 are accepted");
  b = bytes;
  b[kSpecIdData + 32] = 0x04;  // the second algorithm is SHA-1 again
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: Spec ID lists algorithm 0x0004 "
            "twice");
  b = bytes;
  b[kSpecIdData + 34] = 48;  // SHA-256 with 48-byte digests
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: Spec ID gives algorithm 0x000b a "
            "digest size of 48");
  b = bytes;
  b[kSpecIdData + 32] = 0x0c;  // SHA-384 instead of SHA-256
  b[kSpecIdData + 34] = 48;
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: Spec ID lists no sha256 algorithm "
            "(the SHA-256 bank is required)");
  b = bytes;
  b[kSpecIdData + 36] = 1;  // vendor info size 1: one byte too many read
  EXPECT_EQ(ErrorOf(b),
            "event log event 0 at byte 0: truncated in the Spec ID vendor "
            "info");
}

TEST(EventLogTest, EventErrors) {
  Bytes bytes = ReadData("eventlog_locality3.bin");
  Bytes b = bytes;
  PutU32(b, kEvent2, 24);
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: PCR index 24 is above 23");
  b = bytes;
  PutU32(b, kEvent2 + 8, 0);
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: digest count 0 is not in 1..2 "
            "(the Spec ID event's algorithms)");
  b = bytes;
  PutU32(b, kEvent2 + 8, 3);
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: digest count 3 is not in 1..2 "
            "(the Spec ID event's algorithms)");
  b = bytes;
  b[kEvent2 + 12] = 0x0d;  // SHA-512: not in the header
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: digest algorithm 0x000d is not "
            "in the Spec ID event");
  b = bytes;
  b[kEvent2 + 12 + 22] = 0x04;  // SHA-1 twice
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: digest algorithm 0x0004 appears "
            "twice");
  // Only the SHA-1 digest (count 1, the SHA-256 entry removed).
  b = bytes;
  PutU32(b, kEvent2 + 8, 1);
  b.erase(b.begin() + kEvent2 + 34, b.begin() + kEvent2 + 34 + 34);
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: digest list has no sha256 digest");
}

TEST(EventLogTest, StartupLocalityRules) {
  Bytes bytes = ReadData("eventlog_locality3.bin");
  Bytes b = bytes;
  b[kEvent1Data + 16] = 2;
  EXPECT_EQ(ErrorOf(b),
            "event log event 1 at byte 69: StartupLocality 2 is not 0, 3 or "
            "4");
  b = bytes;
  PutU32(b, kEvent1, 1);
  EXPECT_EQ(ErrorOf(b),
            "event log event 1 at byte 69: StartupLocality must be a 17-byte "
            "event for PCR 0");
  // The locality event moved behind the CRTM version (a PCR 0 measurement).
  Bytes locality(bytes.begin() + kEvent1, bytes.begin() + kEvent2);
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  std::size_t version_end = log->events[2].offset;
  b.assign(bytes.begin(), bytes.begin() + kEvent1);
  b.insert(b.end(), bytes.begin() + kEvent2, bytes.begin() + version_end);
  b.insert(b.end(), locality.begin(), locality.end());
  std::size_t moved_at = kEvent1 + (version_end - kEvent2);
  EXPECT_EQ(ErrorOf(b), "event log event 2 at byte " +
                            std::to_string(moved_at) +
                            ": StartupLocality after a PCR 0 measurement");
  // Twice.
  b.assign(bytes.begin(), bytes.begin() + kEvent2);
  b.insert(b.end(), locality.begin(), locality.end());
  EXPECT_EQ(ErrorOf(b),
            "event log event 2 at byte 158: a second StartupLocality event");
}

// The policy parser keeps its own table of the names (it does not link the
// attestation library): every name here must parse there to the same type.
TEST(EventLogTest, PolicyKnowsEveryEventTypeName) {
  const std::uint32_t kTypes[] = {ev::kPrebootCert,
                                  ev::kPostCode,
                                  ev::kNoAction,
                                  ev::kSeparator,
                                  ev::kAction,
                                  ev::kEventTag,
                                  ev::kSCrtmContents,
                                  ev::kSCrtmVersion,
                                  ev::kCpuMicrocode,
                                  ev::kPlatformConfigFlags,
                                  ev::kTableOfDevices,
                                  ev::kCompactHash,
                                  ev::kIpl,
                                  ev::kIplPartitionData,
                                  ev::kNonhostCode,
                                  ev::kNonhostConfig,
                                  ev::kNonhostInfo,
                                  ev::kOmitBootDeviceEvents,
                                  ev::kEfiVariableDriverConfig,
                                  ev::kEfiVariableBoot,
                                  ev::kEfiBootServicesApplication,
                                  ev::kEfiBootServicesDriver,
                                  ev::kEfiRuntimeServicesDriver,
                                  ev::kEfiGptEvent,
                                  ev::kEfiAction,
                                  ev::kEfiPlatformFirmwareBlob,
                                  ev::kEfiHandoffTables,
                                  ev::kEfiPlatformFirmwareBlob2,
                                  ev::kEfiHandoffTables2,
                                  ev::kEfiVariableBoot2,
                                  ev::kEfiHcrtmEvent,
                                  ev::kEfiVariableAuthority};
  for (std::uint32_t type : kTypes) {
    std::string name = EventTypeName(type);
    ASSERT_EQ(name.rfind("EV_", 0), 0u) << type;
    auto hr = policy::ParseHostRequirements(
        R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60"><measured-boot secure-boot="not-required"><event pcr="1" type=")" +
            name + R"(" sha256=")" + std::string(64, '0') +
            R"("/></measured-boot></host-requirements>)",
        "h.xml");
    ASSERT_TRUE(hr.ok()) << name << ": " << hr.status().message();
    EXPECT_EQ(hr->measured_boot->events.at(0).type, type) << name;
  }
}

TEST(EventLogTest, EventTypeNames) {
  EXPECT_EQ(EventTypeName(ev::kEfiBootServicesApplication),
            "EV_EFI_BOOT_SERVICES_APPLICATION");
  EXPECT_EQ(EventTypeName(0x800000ff), "0x800000ff");
  EXPECT_EQ(EventTypeFromName("EV_SEPARATOR"), ev::kSeparator);
  EXPECT_EQ(EventTypeFromName("0x00000004"), std::nullopt);
}

}  // namespace
}  // namespace tvd::attest
