#include "tvd/attest/event_log.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "small_digest.h"

namespace tvd::attest {
namespace {

struct NamedType {
  std::uint32_t type;
  std::string_view name;
};

constexpr NamedType kTypeNames[] = {
    {ev::kPrebootCert, "EV_PREBOOT_CERT"},
    {ev::kPostCode, "EV_POST_CODE"},
    {ev::kNoAction, "EV_NO_ACTION"},
    {ev::kSeparator, "EV_SEPARATOR"},
    {ev::kAction, "EV_ACTION"},
    {ev::kEventTag, "EV_EVENT_TAG"},
    {ev::kSCrtmContents, "EV_S_CRTM_CONTENTS"},
    {ev::kSCrtmVersion, "EV_S_CRTM_VERSION"},
    {ev::kCpuMicrocode, "EV_CPU_MICROCODE"},
    {ev::kPlatformConfigFlags, "EV_PLATFORM_CONFIG_FLAGS"},
    {ev::kTableOfDevices, "EV_TABLE_OF_DEVICES"},
    {ev::kCompactHash, "EV_COMPACT_HASH"},
    {ev::kIpl, "EV_IPL"},
    {ev::kIplPartitionData, "EV_IPL_PARTITION_DATA"},
    {ev::kNonhostCode, "EV_NONHOST_CODE"},
    {ev::kNonhostConfig, "EV_NONHOST_CONFIG"},
    {ev::kNonhostInfo, "EV_NONHOST_INFO"},
    {ev::kOmitBootDeviceEvents, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {ev::kEfiVariableDriverConfig, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {ev::kEfiVariableBoot, "EV_EFI_VARIABLE_BOOT"},
    {ev::kEfiBootServicesApplication, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {ev::kEfiBootServicesDriver, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {ev::kEfiRuntimeServicesDriver, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {ev::kEfiGptEvent, "EV_EFI_GPT_EVENT"},
    {ev::kEfiAction, "EV_EFI_ACTION"},
    {ev::kEfiPlatformFirmwareBlob, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {ev::kEfiHandoffTables, "EV_EFI_HANDOFF_TABLES"},
    {ev::kEfiPlatformFirmwareBlob2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {ev::kEfiHandoffTables2, "EV_EFI_HANDOFF_TABLES2"},
    {ev::kEfiVariableBoot2, "EV_EFI_VARIABLE_BOOT2"},
    {ev::kEfiHcrtmEvent, "EV_EFI_HCRTM_EVENT"},
    {ev::kEfiVariableAuthority, "EV_EFI_VARIABLE_AUTHORITY"},
};

// The sizes a TPM gives the algorithms it knows; a header that disagrees is
// malformed (and would make every later event misparse).
std::optional<std::uint16_t> KnownDigestSize(std::uint16_t alg) {
  switch (alg) {
    case kTpmAlgSha1:
      return 20;
    case kTpmAlgSha256:
    case kTpmAlgSm3_256:
      return 32;
    case kTpmAlgSha384:
      return 48;
    case kTpmAlgSha512:
      return 64;
    default:
      return std::nullopt;
  }
}

std::string Hex16(std::uint16_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x0000";
  for (int i = 0; i < 4; ++i) s[5 - i] = kDigits[(v >> (4 * i)) & 0xf];
  return s;
}

constexpr std::uint8_t kSpecIdSignature[16] = {'S', 'p', 'e', 'c', ' ', 'I',
                                               'D', ' ', 'E', 'v', 'e', 'n',
                                               't', '0', '3', 0};
constexpr std::uint8_t kStartupLocalitySignature[16] = {
    'S', 't', 'a', 'r', 't', 'u', 'p', 'L',
    'o', 'c', 'a', 'l', 'i', 't', 'y', 0};

// A bounds-checked little-endian reader over the log. Every read names the
// field, so a truncated log says which field ran out.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }

  bool U8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = bytes_[pos_++];
    return true;
  }
  bool U16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>(bytes_[pos_] | (bytes_[pos_ + 1] << 8));
    pos_ += 2;
    return true;
  }
  bool U32(std::uint32_t& v) {
    if (left() < 4) return false;
    v = static_cast<std::uint32_t>(bytes_[pos_]) |
        (static_cast<std::uint32_t>(bytes_[pos_ + 1]) << 8) |
        (static_cast<std::uint32_t>(bytes_[pos_ + 2]) << 16) |
        (static_cast<std::uint32_t>(bytes_[pos_ + 3]) << 24);
    pos_ += 4;
    return true;
  }
  bool Bytes(std::size_t n, std::span<const std::uint8_t>& out) {
    if (left() < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

class EventError {
 public:
  EventError(std::size_t number, std::size_t offset)
      : number_(number), offset_(offset) {}
  Status operator()(const std::string& why) const {
    return InvalidArgument("event log event " + std::to_string(number_) +
                           " at byte " + std::to_string(offset_) + ": " + why);
  }
  Status Truncated(std::string_view field) const {
    return (*this)("truncated in " + std::string(field));
  }

 private:
  std::size_t number_;
  std::size_t offset_;
};

bool AllZero(std::span<const std::uint8_t> b) {
  return std::all_of(b.begin(), b.end(), [](std::uint8_t c) { return c == 0; });
}

// The Spec ID Event03 structure (the header event's data).
Status ParseSpecId(std::span<const std::uint8_t> data, const EventError& error,
                   EventLog& log) {
  Reader r(data);
  std::span<const std::uint8_t> signature;
  if (!r.Bytes(16, signature) ||
      !std::equal(signature.begin(), signature.end(), kSpecIdSignature)) {
    return error(
        "the first event is not a Spec ID Event03 (only crypto-agile logs "
        "are accepted: the quote is over the SHA-256 bank)");
  }
  std::uint32_t platform_class = 0, algorithm_count = 0;
  std::uint8_t minor = 0, major = 0, errata = 0, uintn_size = 0;
  if (!r.U32(platform_class) || !r.U8(minor) || !r.U8(major) || !r.U8(errata) ||
      !r.U8(uintn_size) || !r.U32(algorithm_count)) {
    return error.Truncated("the Spec ID event");
  }
  if (uintn_size != 1 && uintn_size != 2) {
    return error("Spec ID uintnSize " + std::to_string(uintn_size) +
                 " is neither 1 nor 2");
  }
  if (algorithm_count == 0 || algorithm_count > kMaxEventLogAlgorithms) {
    return error("Spec ID lists " + std::to_string(algorithm_count) +
                 " algorithms; 1.." + std::to_string(kMaxEventLogAlgorithms) +
                 " are accepted");
  }
  for (std::uint32_t i = 0; i < algorithm_count; ++i) {
    EventLogAlgorithm a;
    if (!r.U16(a.id) || !r.U16(a.digest_size)) {
      return error.Truncated("the Spec ID algorithm list");
    }
    for (const EventLogAlgorithm& seen : log.algorithms) {
      if (seen.id == a.id) {
        return error("Spec ID lists algorithm " + Hex16(a.id) + " twice");
      }
    }
    std::optional<std::uint16_t> known = KnownDigestSize(a.id);
    if (known ? a.digest_size != *known
              : a.digest_size == 0 || a.digest_size > kMaxEventDigestSize) {
      return error("Spec ID gives algorithm " + Hex16(a.id) +
                   " a digest size of " + std::to_string(a.digest_size));
    }
    log.algorithms.push_back(a);
  }
  bool has_sha256 = std::any_of(
      log.algorithms.begin(), log.algorithms.end(),
      [](const EventLogAlgorithm& a) { return a.id == kTpmAlgSha256; });
  if (!has_sha256) {
    return error(
        "Spec ID lists no sha256 algorithm (the SHA-256 bank is "
        "required)");
  }
  std::uint8_t vendor_size = 0;
  std::span<const std::uint8_t> vendor;
  if (!r.U8(vendor_size) || !r.Bytes(vendor_size, vendor)) {
    return error.Truncated("the Spec ID vendor info");
  }
  if (!r.done()) {
    return error(std::to_string(r.left()) +
                 " bytes follow the Spec ID event's vendor info");
  }
  return Status::Ok();
}

// The TCG_PCR_EVENT header.
Status ParseHeader(Reader& r, EventLog& log) {
  EventError error(0, 0);
  std::uint32_t pcr = 0, type = 0, size = 0;
  std::span<const std::uint8_t> digest, data;
  if (!r.U32(pcr) || !r.U32(type) || !r.Bytes(20, digest) || !r.U32(size)) {
    return error.Truncated("the header");
  }
  if (pcr != 0 || type != ev::kNoAction || !AllZero(digest)) {
    return error(
        "the first event is not a Spec ID Event03 (only crypto-agile logs "
        "are accepted: the quote is over the SHA-256 bank)");
  }
  if (size > kMaxEventDataBytes) {
    return error("data size " + std::to_string(size) + " exceeds the " +
                 std::to_string(kMaxEventDataBytes) + "-byte maximum");
  }
  if (!r.Bytes(size, data)) return error.Truncated("the event data");
  return ParseSpecId(data, error, log);
}

Status ParseEvent(Reader& r, std::size_t number, bool& pcr0_extended,
                  EventLog& log) {
  EventError error(number, r.pos());
  TcgEvent e;
  e.number = number;
  e.offset = r.pos();
  std::uint32_t count = 0;
  if (!r.U32(e.pcr)) return error.Truncated("the PCR index");
  if (e.pcr > kMaxEventLogPcr) {
    return error("PCR index " + std::to_string(e.pcr) + " is above " +
                 std::to_string(kMaxEventLogPcr));
  }
  if (!r.U32(e.type)) return error.Truncated("the event type");
  if (!r.U32(count)) return error.Truncated("the digest count");
  if (count == 0 || count > log.algorithms.size()) {
    return error("digest count " + std::to_string(count) + " is not in 1.." +
                 std::to_string(log.algorithms.size()) +
                 " (the Spec ID event's algorithms)");
  }
  std::uint32_t seen = 0;  // bit i: log.algorithms[i] already given
  bool has_sha256 = false;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint16_t alg = 0;
    if (!r.U16(alg)) return error.Truncated("the digest list");
    std::size_t k = 0;
    while (k < log.algorithms.size() && log.algorithms[k].id != alg) ++k;
    if (k == log.algorithms.size()) {
      return error("digest algorithm " + Hex16(alg) +
                   " is not in the Spec ID event");
    }
    if (seen & (1u << k)) {
      return error("digest algorithm " + Hex16(alg) + " appears twice");
    }
    seen |= 1u << k;
    std::span<const std::uint8_t> digest;
    if (!r.Bytes(log.algorithms[k].digest_size, digest)) {
      return error.Truncated("the digest list");
    }
    if (alg == kTpmAlgSha256) {
      std::copy(digest.begin(), digest.end(), e.sha256.begin());
      has_sha256 = true;
    }
  }
  if (!has_sha256) return error("digest list has no sha256 digest");
  std::uint32_t size = 0;
  if (!r.U32(size)) return error.Truncated("the event data size");
  if (size > kMaxEventDataBytes) {
    return error("data size " + std::to_string(size) + " exceeds the " +
                 std::to_string(kMaxEventDataBytes) + "-byte maximum");
  }
  std::span<const std::uint8_t> data;
  if (!r.Bytes(size, data)) return error.Truncated("the event data");
  e.data.assign(data.begin(), data.end());

  if (e.type == ev::kNoAction) {
    if (e.data.size() >= 16 && std::equal(e.data.begin(), e.data.begin() + 16,
                                          kStartupLocalitySignature)) {
      if (e.pcr != 0 || e.data.size() != 17) {
        return error("StartupLocality must be a 17-byte event for PCR 0");
      }
      if (log.startup_locality) {
        return error("a second StartupLocality event");
      }
      if (pcr0_extended) {
        return error("StartupLocality after a PCR 0 measurement");
      }
      std::uint8_t locality = e.data[16];
      if (locality != 0 && locality != 3 && locality != 4) {
        return error("StartupLocality " + std::to_string(locality) +
                     " is not 0, 3 or 4");
      }
      log.startup_locality = locality;
    }
  } else if (e.pcr == 0) {
    pcr0_extended = true;
  }
  log.events.push_back(e);
  return Status::Ok();
}

}  // namespace

std::string EventTypeName(std::uint32_t type) {
  for (const NamedType& t : kTypeNames) {
    if (t.type == type) return std::string(t.name);
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x00000000";
  for (int i = 0; i < 8; ++i) s[9 - i] = kDigits[(type >> (4 * i)) & 0xf];
  return s;
}

std::optional<std::uint32_t> EventTypeFromName(std::string_view name) {
  for (const NamedType& t : kTypeNames) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

StatusOr<EventLog> ParseEventLog(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxEventLogBytes) {
    return InvalidArgument("event log: " + std::to_string(bytes.size()) +
                           " bytes exceed the maximum of " +
                           std::to_string(kMaxEventLogBytes));
  }
  if (bytes.empty()) return InvalidArgument("event log: empty");
  EventLog log;
  Reader r(bytes);
  TVD_RETURN_IF_ERROR(ParseHeader(r, log));
  bool pcr0_extended = false;
  while (!r.done()) {
    std::size_t number = log.events.size() + 1;
    if (number > kMaxEventLogEvents) {
      return InvalidArgument("event log: more than " +
                             std::to_string(kMaxEventLogEvents) + " events");
    }
    TVD_RETURN_IF_ERROR(ParseEvent(r, number, pcr0_extended, log));
  }
  return log;
}

EventLogPcrs ReplayEventLog(const EventLog& log) {
  EventLogPcrs pcrs{};
  if (log.startup_locality) pcrs[0][31] = *log.startup_locality;
  for (const TcgEvent& e : log.events) {
    if (e.pcr >= kEventLogPcrs || e.type == ev::kNoAction) continue;
    internal::Sha256Small(pcrs[e.pcr], e.sha256, pcrs[e.pcr].data());
  }
  return pcrs;
}

Status CheckEventLogReplay(const EventLogPcrs& replayed,
                           std::span<const PcrValue> quoted) {
  for (std::uint32_t i = 0; i < kEventLogPcrs; ++i) {
    const PcrValue* q = nullptr;
    for (const PcrValue& v : quoted) {
      if (v.index == i) q = &v;
    }
    std::string n = std::to_string(i);
    if (q == nullptr) {
      return PermissionDenied("event log replay needs PCR " + n +
                              " but the quote does not cover it");
    }
    if (q->value != replayed[i]) {
      return PermissionDenied("event log replay gives PCR " + n + " " +
                              ToHex(replayed[i]) + " but the quoted PCR " + n +
                              " is " + ToHex(q->value));
    }
  }
  return Status::Ok();
}

}  // namespace tvd::attest
