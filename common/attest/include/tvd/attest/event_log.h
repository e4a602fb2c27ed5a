// The host firmware's TCG event log in its binary crypto-agile form (TCG PC
// Client Platform Firmware Profile, the kernel's securityfs
// tpm0/binary_bios_measurements), parsed and replayed. Pure: bytes in,
// events and PCR values out, no I/O.
//
// Layout (all integers little-endian):
//   TCG_PCR_EVENT   the header: PCR 0, EV_NO_ACTION, a 20-byte zero digest,
//                   u32 size, and the "Spec ID Event03" structure naming
//                   the digest algorithms (id, size) every later event
//                   carries.
//   TCG_PCR_EVENT2  each later event: u32 PCR, u32 type, u32 digest count,
//                   count x (u16 algorithm, digest of the header's size for
//                   it), u32 size, event data.
// A log without the Spec ID header (the SHA-1-only format) is refused: the
// quote is over the SHA-256 bank, and only a crypto-agile log carries the
// SHA-256 digests that replay to it. Every event must carry a SHA-256
// digest for the same reason.
//
// Replay: PCRs 0-7 of the SHA-256 bank from their reset value, each event's
// SHA-256 digest extended into its PCR in log order. EV_NO_ACTION events are
// not extended (the firmware logs them without extending). A StartupLocality
// EV_NO_ACTION event (data "StartupLocality\0" and one byte L) says the TPM
// was started from locality L, which makes PCR 0's reset value 31 zero bytes
// and then L; it must come before any PCR 0 measurement. Events for PCRs
// 8-23 (boot loaders extend PCRs 8, 9, 14 through the firmware) are parsed
// and kept but not replayed: they are not what this log vouches for.
//
// What a replay proves: the TPM holds the quoted values, so (SHA-256 being
// collision resistant) the sequence of SHA-256 digests extended into each of
// PCRs 0-7 is the one the log shows. The event types and the event data are
// NOT covered by the TPM: whoever sends the log can change them freely.
// measured_boot.h decides what may be believed of them.
//
// Errors (InvalidArgument), the first problem found, naming where:
//   "event log: <why>"                                   (the whole log)
//   "event log event N at byte O: <why>"   (event 0 is the Spec ID header)
// e.g. "event log event 3 at byte 311: digest list has no sha256 digest"
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tvd/attest/tpm.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

// Hard limits, so a hostile log costs little. Real logs are 10-100 KB with
// 50-200 events; the largest events are the Secure Boot databases (a dbx of
// a few hundred revoked hashes is 10-30 KB).
inline constexpr std::size_t kMaxEventLogBytes = 1u << 20;
inline constexpr std::size_t kMaxEventLogEvents = 4096;
inline constexpr std::uint32_t kMaxEventDataBytes = 256u * 1024;
// Algorithms in the Spec ID header, so digests per event (TPM2's HASH_COUNT
// is at most a handful; 8 leaves room).
inline constexpr std::uint32_t kMaxEventLogAlgorithms = 8;
inline constexpr std::uint16_t kMaxEventDigestSize = 64;
inline constexpr std::uint32_t kMaxEventLogPcr = 23;
// PCRs 0-7: what the firmware measures and what the replay checks.
inline constexpr std::uint32_t kEventLogPcrs = 8;

// TPM_ALG_ID values of the digests.
inline constexpr std::uint16_t kTpmAlgSha1 = 0x0004;
inline constexpr std::uint16_t kTpmAlgSha256 = 0x000B;
inline constexpr std::uint16_t kTpmAlgSha384 = 0x000C;
inline constexpr std::uint16_t kTpmAlgSha512 = 0x000D;
inline constexpr std::uint16_t kTpmAlgSm3_256 = 0x0012;

// Event types (TCG PC Client PFP, "Events"): the ones this code names.
namespace ev {
inline constexpr std::uint32_t kPrebootCert = 0x0;
inline constexpr std::uint32_t kPostCode = 0x1;
inline constexpr std::uint32_t kNoAction = 0x3;
inline constexpr std::uint32_t kSeparator = 0x4;
inline constexpr std::uint32_t kAction = 0x5;
inline constexpr std::uint32_t kEventTag = 0x6;
inline constexpr std::uint32_t kSCrtmContents = 0x7;
inline constexpr std::uint32_t kSCrtmVersion = 0x8;
inline constexpr std::uint32_t kCpuMicrocode = 0x9;
inline constexpr std::uint32_t kPlatformConfigFlags = 0xA;
inline constexpr std::uint32_t kTableOfDevices = 0xB;
inline constexpr std::uint32_t kCompactHash = 0xC;
inline constexpr std::uint32_t kIpl = 0xD;
inline constexpr std::uint32_t kIplPartitionData = 0xE;
inline constexpr std::uint32_t kNonhostCode = 0xF;
inline constexpr std::uint32_t kNonhostConfig = 0x10;
inline constexpr std::uint32_t kNonhostInfo = 0x11;
inline constexpr std::uint32_t kOmitBootDeviceEvents = 0x12;
inline constexpr std::uint32_t kEfiVariableDriverConfig = 0x80000001;
inline constexpr std::uint32_t kEfiVariableBoot = 0x80000002;
inline constexpr std::uint32_t kEfiBootServicesApplication = 0x80000003;
inline constexpr std::uint32_t kEfiBootServicesDriver = 0x80000004;
inline constexpr std::uint32_t kEfiRuntimeServicesDriver = 0x80000005;
inline constexpr std::uint32_t kEfiGptEvent = 0x80000006;
inline constexpr std::uint32_t kEfiAction = 0x80000007;
inline constexpr std::uint32_t kEfiPlatformFirmwareBlob = 0x80000008;
inline constexpr std::uint32_t kEfiHandoffTables = 0x80000009;
inline constexpr std::uint32_t kEfiPlatformFirmwareBlob2 = 0x8000000A;
inline constexpr std::uint32_t kEfiHandoffTables2 = 0x8000000B;
inline constexpr std::uint32_t kEfiVariableBoot2 = 0x8000000C;
inline constexpr std::uint32_t kEfiHcrtmEvent = 0x80000010;
inline constexpr std::uint32_t kEfiVariableAuthority = 0x800000E0;
}  // namespace ev

// "EV_SEPARATOR", "EV_EFI_BOOT_SERVICES_APPLICATION", ... for the types
// above; "0x%08x" for any other.
std::string EventTypeName(std::uint32_t type);
// The inverse for the named types; nullopt for any other text.
std::optional<std::uint32_t> EventTypeFromName(std::string_view name);

// One digest algorithm of the Spec ID header.
struct EventLogAlgorithm {
  std::uint16_t id = 0;
  std::uint16_t digest_size = 0;
};

// One TCG_PCR_EVENT2. It owns a copy of its data: a parsed log stays valid
// after the bytes it was parsed from are gone (at most kMaxEventLogBytes in
// all, so the copy is bounded).
struct TcgEvent {
  std::size_t number = 0;  // 1-based; 0 is the Spec ID header
  std::size_t offset = 0;  // byte offset of the event in the log
  std::uint32_t pcr = 0;
  std::uint32_t type = 0;
  Sha256Digest sha256{};  // always present (the parser requires it)
  std::vector<std::uint8_t> data;
};

struct EventLog {
  std::vector<EventLogAlgorithm> algorithms;  // from the Spec ID header
  // From a StartupLocality event; nullopt when the log has none (locality 0).
  std::optional<std::uint8_t> startup_locality;
  std::vector<TcgEvent> events;  // the TCG_PCR_EVENT2s, in log order
};

// Parses `bytes` (at most kMaxEventLogBytes). Checks, with the errors named
// in the header comment:
//  - the header is PCR 0, EV_NO_ACTION, a zero digest, and a Spec ID
//    Event03 with 1..kMaxEventLogAlgorithms distinct algorithms of sizes
//    1..kMaxEventDigestSize (the TPM's sizes for SHA-1/256/384/512 and SM3),
//    SHA-256 among them, uintnSize 1 or 2, and nothing after its vendor info;
//  - each event: PCR <= kMaxEventLogPcr, 1..(header algorithms) digests of
//    distinct algorithms named in the header, a SHA-256 one among them,
//    data of at most kMaxEventDataBytes, all within the log;
//  - StartupLocality: at most one, locality 0, 3 or 4, before any PCR 0
//    measurement;
//  - at most kMaxEventLogEvents events, no trailing partial event.
StatusOr<EventLog> ParseEventLog(std::span<const std::uint8_t> bytes);

// PCRs 0-7 of the SHA-256 bank; index = PCR number.
using EventLogPcrs = std::array<Sha256Digest, kEventLogPcrs>;

// The values `log` replays to (see the header comment). Cannot fail: the
// parser has checked everything the replay relies on.
EventLogPcrs ReplayEventLog(const EventLog& log);

// `replayed` against the quoted values. Every PCR 0-7 must be among
// `quoted` (PermissionDenied "event log replay needs PCR N but the quote
// does not cover it") and equal to the replay (PermissionDenied "event log
// replay gives PCR N <replayed hex> but the quoted PCR N is <quoted hex>",
// the lowest such PCR). Quoted PCRs above 7 are ignored.
Status CheckEventLogReplay(const EventLogPcrs& replayed,
                           std::span<const PcrValue> quoted);

}  // namespace tvd::attest
