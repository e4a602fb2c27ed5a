// A measured-boot policy checked against a parsed event log (event_log.h):
// the alternative to pinning PCR 0-7 values, which breaks on every firmware
// or boot loader update. Pure: no I/O.
//
// Threat model: whoever sends the log controls its bytes but not the TPM.
// Once the log replays to the quoted PCRs 0-7 (CheckEventLogReplay, which
// the caller runs first), the SHA-256 digests extended into each PCR and
// their order are the TPM's; the event types and event data are not. A
// check that believed a type or data without a reason could be fooled: a
// rogue boot loader's EV_EFI_BOOT_SERVICES_APPLICATION relabelled as an
// EV_EFI_ACTION, or a "SecureBoot = 1" variable logged beside a digest of
// "SecureBoot = 0". So every event in PCRs 0-7 (but EV_NO_ACTION, which is
// not extended) must be accounted for in one of three ways, else refused:
//
//  1. Code, judged by its digest (the image hash the firmware computed; the
//     data only says where the image was):
//       PCR 0 EV_S_CRTM_CONTENTS, EV_EFI_PLATFORM_FIRMWARE_BLOB(2),
//         EV_POST_CODE, EV_CPU_MICROCODE, EV_EFI_HCRTM_EVENT: the digest is
//         one of `firmware`;
//       PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION: the applications, in log
//         order, are exactly one of `shim`, then one of `bootloader`, then
//         one of `kernel`, each stage present only when its list is
//         non-empty.
//     Relabelling such an event as another type does not help: the other
//     types must pass rule 2 or 3, which a code digest cannot.
//  2. Data-bound: types whose digest is the SHA-256 of their event data,
//     so the data is what was measured: EV_SEPARATOR, EV_ACTION,
//     EV_EFI_ACTION, EV_S_CRTM_VERSION, EV_PLATFORM_CONFIG_FLAGS,
//     EV_OMIT_BOOT_DEVICE_EVENTS, EV_EFI_GPT_EVENT,
//     EV_EFI_VARIABLE_DRIVER_CONFIG, EV_EFI_VARIABLE_BOOT2,
//     EV_EFI_VARIABLE_AUTHORITY, and EV_EFI_VARIABLE_BOOT (whose digest is
//     either the SHA-256 of the whole UEFI_VARIABLE_DATA or, as EDK2
//     measures it, of the variable's value only). A digest that is not the
//     hash of the data is a tampered log and refused, naming the event.
//     Their data is then believed: an EV_SEPARATOR must be 4 zero bytes
//     (anything else is the firmware reporting an error), and the PCR 7
//     EV_EFI_VARIABLE_DRIVER_CONFIG events give the Secure Boot state and
//     keys (below). Other data-bound events are configuration, not code,
//     and are accepted (pin PCRs 1, 3, 5 or 6 with <pcr> to constrain them).
//  3. Listed: any other (PCR, type) is accepted only with a digest the
//     policy lists for exactly that PCR and type (`events`). A type alone
//     is never enough, because an unlisted digest under an allowed type is
//     exactly the relabelling of rule 1.
//
// Secure Boot (PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG, UEFI_VARIABLE_DATA):
//   SecureBoot and PK, KEK under EFI_GLOBAL_VARIABLE
//   (8be4df61-93ca-11d2-aa0d-00e098032b8c), db and dbx under
//   EFI_IMAGE_SECURITY_DATABASE (d719b2cb-3d3a-4596-a3bc-dad00e67656f).
//   Each may appear at most once (a second one is an extension after the
//   firmware's, and refused), and only before PCR 7's first EV_SEPARATOR:
//   the firmware measures its configuration before it, and after it anyone
//   with access to the TPM can extend PCR 7 (so without the firmware's own
//   SecureBoot event, a "SecureBoot = 01" extended by the OS would pass).
//   When the policy judges PCR 7 at all, that separator must be in the
//   log. With `require_secure_boot`, SecureBoot must
//   be measured with the value 01. For each of PK, KEK, db, dbx whose list
//   is non-empty, the variable must be measured and the SHA-256 of its value
//   (the EFI_SIGNATURE_LIST bytes, as efivarfs shows them after the 4
//   attribute bytes) must be in the list.
//
// Errors: PermissionDenied for a log that does not meet the policy,
// InvalidArgument for a tampered or malformed event, each naming the event:
//   "event log event N (PCR P, TYPE): <why>"
// e.g.
//   "... (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION): bootloader <hex> is not
//    allowed by the measured-boot policy"
//   "... (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG): digest <hex> is not the
//    SHA-256 of the event data (<hex>): the log was altered"
//   "... (PCR 1, EV_EFI_HANDOFF_TABLES): digest <hex> is not listed for this
//    PCR and type in the measured-boot policy"
// and for what is missing, "event log: <why>", e.g.
//   "event log: no kernel in PCR 4 (the measured-boot policy requires one)"
//   "event log: Secure Boot is not enabled (SecureBoot is 00)"
//   "event log: no separator in PCR 7, so the firmware's Secure Boot
//    configuration cannot be told from later measurements"
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tvd/attest/event_log.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

struct MeasuredBootPolicy {
  std::vector<Sha256Digest> firmware;
  std::vector<Sha256Digest> shim;
  std::vector<Sha256Digest> bootloader;
  std::vector<Sha256Digest> kernel;
  bool require_secure_boot = false;
  // SHA-256 of each variable's value.
  std::vector<Sha256Digest> pk;
  std::vector<Sha256Digest> kek;
  std::vector<Sha256Digest> db;
  std::vector<Sha256Digest> dbx;
  struct Event {
    std::uint32_t pcr = 0;
    std::uint32_t type = 0;
    Sha256Digest sha256{};
    friend bool operator==(const Event&, const Event&) = default;
  };
  std::vector<Event> events;
};

// The checks above, the first failing event in log order; then what is
// missing (an application stage, a Secure Boot variable). The log's replay
// against the quote is the caller's (CheckEventLogReplay) and must pass
// first: without it nothing in the log is evidence.
Status CheckMeasuredBoot(const EventLog& log, const MeasuredBootPolicy& policy);

// A policy drafted from a known-good host's log, for an administrator to
// review: PCR 0 firmware digests; the PCR 4 applications as bootloader (one),
// bootloader and kernel (two) or shim, bootloader and kernel (three); Secure
// Boot required when SecureBoot is measured as 01; the PK, KEK, db and dbx
// values measured; every other event of rule 3 listed. The draft is what the
// log shows, not a judgement of it: it trusts the log, so the log must come
// from a host known to be good, and its replay must match that host's quote.
// Fails (the CheckMeasuredBoot error, or PermissionDenied "event log: PCR 4
// has N boot applications; a measured-boot policy allows at most 3 (shim,
// bootloader, kernel)") when no policy could accept the log.
StatusOr<MeasuredBootPolicy> DraftMeasuredBootPolicy(const EventLog& log);

// A UEFI_VARIABLE_DATA structure: vendor GUID (16 bytes as logged), u64
// name length in characters, u64 value length, the UCS-2 name, the value;
// nothing may follow. `name` is the name in ASCII when every character is
// printable ASCII, else with '?' for the others.
struct UefiVariable {
  std::array<std::uint8_t, 16> guid{};
  std::string name;
  std::span<const std::uint8_t> value;  // points into the event data
};
// InvalidArgument "UEFI_VARIABLE_DATA <why>" when malformed.
StatusOr<UefiVariable> ParseUefiVariable(std::span<const std::uint8_t> data);

inline constexpr std::array<std::uint8_t, 16> kEfiGlobalVariableGuid = {
    0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
    0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
inline constexpr std::array<std::uint8_t, 16> kEfiImageSecurityDatabaseGuid = {
    0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
    0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

}  // namespace tvd::attest
