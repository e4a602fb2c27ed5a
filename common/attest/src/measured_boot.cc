#include "tvd/attest/measured_boot.h"

#include <algorithm>
#include <optional>

#include "small_digest.h"

namespace tvd::attest {
namespace {

Sha256Digest Hash(std::span<const std::uint8_t> data) {
  Sha256Digest out;
  internal::Sha256Small(data, {}, out.data());
  return out;
}

bool Contains(const std::vector<Sha256Digest>& list, const Sha256Digest& d) {
  return std::find(list.begin(), list.end(), d) != list.end();
}

std::uint64_t Le64(std::span<const std::uint8_t> b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

std::string Where(const TcgEvent& e) {
  return "event log event " + std::to_string(e.number) + " (PCR " +
         std::to_string(e.pcr) + ", " + EventTypeName(e.type) + "): ";
}

bool IsFirmwareCode(std::uint32_t type) {
  switch (type) {
    case ev::kSCrtmContents:
    case ev::kEfiPlatformFirmwareBlob:
    case ev::kEfiPlatformFirmwareBlob2:
    case ev::kPostCode:
    case ev::kCpuMicrocode:
    case ev::kEfiHcrtmEvent:
      return true;
    default:
      return false;
  }
}

bool IsDataBound(std::uint32_t type) {
  switch (type) {
    case ev::kSeparator:
    case ev::kAction:
    case ev::kEfiAction:
    case ev::kSCrtmVersion:
    case ev::kPlatformConfigFlags:
    case ev::kOmitBootDeviceEvents:
    case ev::kEfiGptEvent:
    case ev::kEfiVariableDriverConfig:
    case ev::kEfiVariableBoot:
    case ev::kEfiVariableBoot2:
    case ev::kEfiVariableAuthority:
      return true;
    default:
      return false;
  }
}

// The Secure Boot variables, in the order their absence is reported.
enum SecureBootVar { kSecureBoot, kPk, kKek, kDb, kDbx, kVarCount };
constexpr const char* kVarNames[kVarCount] = {"SecureBoot", "PK", "KEK", "db",
                                              "dbx"};

std::optional<SecureBootVar> SecureBootVarOf(const UefiVariable& v) {
  if (v.guid == kEfiGlobalVariableGuid) {
    if (v.name == "SecureBoot") return kSecureBoot;
    if (v.name == "PK") return kPk;
    if (v.name == "KEK") return kKek;
  } else if (v.guid == kEfiImageSecurityDatabaseGuid) {
    if (v.name == "db") return kDb;
    if (v.name == "dbx") return kDbx;
  }
  return std::nullopt;
}

const std::vector<Sha256Digest>& ListFor(const MeasuredBootPolicy& p,
                                         SecureBootVar v) {
  switch (v) {
    case kPk:
      return p.pk;
    case kKek:
      return p.kek;
    case kDb:
      return p.db;
    default:
      return p.dbx;
  }
}

const char* const kStageNames[3] = {"shim", "bootloader", "kernel"};

}  // namespace

StatusOr<UefiVariable> ParseUefiVariable(std::span<const std::uint8_t> data) {
  if (data.size() < 32) {
    return InvalidArgument("UEFI_VARIABLE_DATA of " +
                           std::to_string(data.size()) +
                           " bytes is shorter than its 32-byte header");
  }
  UefiVariable v;
  std::copy(data.begin(), data.begin() + 16, v.guid.begin());
  std::uint64_t name_chars = Le64(data.subspan(16, 8));
  std::uint64_t value_size = Le64(data.subspan(24, 8));
  std::uint64_t rest = data.size() - 32;
  // Compared without overflow: both are bounded by the event size first.
  if (name_chars > rest / 2 || value_size > rest ||
      2 * name_chars + value_size != rest) {
    return InvalidArgument("UEFI_VARIABLE_DATA sizes (name " +
                           std::to_string(name_chars) + " characters, value " +
                           std::to_string(value_size) +
                           " bytes) do not add up to its " +
                           std::to_string(data.size()) + " bytes");
  }
  v.name.reserve(name_chars);
  for (std::uint64_t i = 0; i < name_chars; ++i) {
    std::uint16_t c =
        static_cast<std::uint16_t>(data[32 + 2 * i] | (data[33 + 2 * i] << 8));
    v.name.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  v.value = data.subspan(32 + 2 * name_chars);
  return v;
}

Status CheckMeasuredBoot(const EventLog& log,
                         const MeasuredBootPolicy& policy) {
  const std::vector<Sha256Digest>* stages[3] = {
      &policy.shim, &policy.bootloader, &policy.kernel};
  std::size_t next_stage = 0;  // the first stage not yet seen
  const TcgEvent* vars[kVarCount] = {};
  std::span<const std::uint8_t> values[kVarCount];
  const TcgEvent* pcr7_separator = nullptr;

  for (const TcgEvent& e : log.events) {
    if (e.pcr >= kEventLogPcrs || e.type == ev::kNoAction) continue;

    if (e.pcr == 0 && IsFirmwareCode(e.type)) {
      if (!Contains(policy.firmware, e.sha256)) {
        return PermissionDenied(Where(e) + "firmware " + ToHex(e.sha256) +
                                " is not allowed by the measured-boot policy");
      }
      continue;
    }

    if (e.pcr == 4 && e.type == ev::kEfiBootServicesApplication) {
      while (next_stage < 3 && stages[next_stage]->empty()) ++next_stage;
      if (next_stage == 3) {
        return PermissionDenied(
            Where(e) + "boot application " + ToHex(e.sha256) +
            " follows every stage the measured-boot policy allows (shim, "
            "bootloader, kernel)");
      }
      if (!Contains(*stages[next_stage], e.sha256)) {
        return PermissionDenied(Where(e) + kStageNames[next_stage] + " " +
                                ToHex(e.sha256) +
                                " is not allowed by the measured-boot policy");
      }
      ++next_stage;
      continue;
    }

    if (IsDataBound(e.type)) {
      Sha256Digest whole = Hash(e.data);
      std::optional<UefiVariable> var;
      bool is_variable = e.type == ev::kEfiVariableDriverConfig ||
                         e.type == ev::kEfiVariableBoot ||
                         e.type == ev::kEfiVariableBoot2 ||
                         e.type == ev::kEfiVariableAuthority;
      if (is_variable) {
        StatusOr<UefiVariable> parsed = ParseUefiVariable(e.data);
        if (!parsed.ok()) {
          return InvalidArgument(Where(e) + parsed.status().message());
        }
        var = *parsed;
      }
      bool bound = whole == e.sha256 || (e.type == ev::kEfiVariableBoot &&
                                         Hash(var->value) == e.sha256);
      if (!bound) {
        return InvalidArgument(Where(e) + "digest " + ToHex(e.sha256) +
                               " is not the SHA-256 of the event data (" +
                               ToHex(whole) + "): the log was altered");
      }
      if (e.type == ev::kSeparator &&
          !(e.data.size() == 4 &&
            std::all_of(e.data.begin(), e.data.end(),
                        [](std::uint8_t b) { return b == 0; }))) {
        return PermissionDenied(
            Where(e) + "separator " +
            ToHex(std::span<const std::uint8_t>(e.data).subspan(
                0, std::min<std::size_t>(e.data.size(), 8))) +
            " reports a firmware error");
      }
      if (e.pcr == 7 && e.type == ev::kSeparator && pcr7_separator == nullptr) {
        pcr7_separator = &e;
      }
      if (e.pcr == 7 && e.type == ev::kEfiVariableDriverConfig) {
        std::optional<SecureBootVar> which = SecureBootVarOf(*var);
        if (which && pcr7_separator != nullptr) {
          // The firmware measures its Secure Boot configuration before the
          // separator; after it, anyone with the TPM can extend PCR 7.
          return PermissionDenied(
              Where(e) + kVarNames[*which] +
              " is measured after the PCR 7 separator (event " +
              std::to_string(pcr7_separator->number) +
              "), not by the firmware");
        }
        if (which) {
          if (vars[*which] != nullptr) {
            return PermissionDenied(Where(e) + "a second " + kVarNames[*which] +
                                    " variable (the first is event " +
                                    std::to_string(vars[*which]->number) + ")");
          }
          vars[*which] = &e;
          values[*which] = var->value;
        }
      }
      continue;
    }

    bool listed = std::any_of(policy.events.begin(), policy.events.end(),
                              [&e](const MeasuredBootPolicy::Event& a) {
                                return a.pcr == e.pcr && a.type == e.type &&
                                       a.sha256 == e.sha256;
                              });
    if (!listed) {
      return PermissionDenied(Where(e) + "digest " + ToHex(e.sha256) +
                              " is not listed for this PCR and type in the "
                              "measured-boot policy");
    }
  }

  while (next_stage < 3 && stages[next_stage]->empty()) ++next_stage;
  if (next_stage < 3) {
    return PermissionDenied(std::string("event log: no ") +
                            kStageNames[next_stage] +
                            " in PCR 4 (the measured-boot policy requires "
                            "one)");
  }
  bool judges_pcr7 = policy.require_secure_boot || !policy.pk.empty() ||
                     !policy.kek.empty() || !policy.db.empty() ||
                     !policy.dbx.empty();
  if (judges_pcr7 && pcr7_separator == nullptr) {
    return PermissionDenied(
        "event log: no separator in PCR 7, so the firmware's Secure Boot "
        "configuration cannot be told from later measurements");
  }
  if (policy.require_secure_boot) {
    if (vars[kSecureBoot] == nullptr) {
      return PermissionDenied(
          "event log: Secure Boot is required but no SecureBoot variable is "
          "measured in PCR 7");
    }
    std::span<const std::uint8_t> sb = values[kSecureBoot];
    if (sb.size() != 1 || sb[0] != 1) {
      return PermissionDenied(
          "event log: Secure Boot is not enabled "
          "(SecureBoot is " +
          ToHex(sb.subspan(0, std::min<std::size_t>(sb.size(), 8))) + ")");
    }
  }
  for (SecureBootVar v : {kPk, kKek, kDb, kDbx}) {
    const std::vector<Sha256Digest>& allowed = ListFor(policy, v);
    if (allowed.empty()) continue;
    if (vars[v] == nullptr) {
      return PermissionDenied(std::string("event log: no ") + kVarNames[v] +
                              " variable is measured in PCR 7 (the "
                              "measured-boot policy lists allowed values)");
    }
    Sha256Digest d = Hash(values[v]);
    if (!Contains(allowed, d)) {
      return PermissionDenied(Where(*vars[v]) + kVarNames[v] + " value " +
                              ToHex(d) +
                              " is not allowed by the measured-boot policy");
    }
  }
  return Status::Ok();
}

StatusOr<MeasuredBootPolicy> DraftMeasuredBootPolicy(const EventLog& log) {
  MeasuredBootPolicy policy;
  auto add = [](std::vector<Sha256Digest>& list, const Sha256Digest& d) {
    if (!Contains(list, d)) list.push_back(d);
  };
  std::vector<Sha256Digest> apps;
  for (const TcgEvent& e : log.events) {
    if (e.pcr >= kEventLogPcrs || e.type == ev::kNoAction) continue;
    if (e.pcr == 0 && IsFirmwareCode(e.type)) {
      add(policy.firmware, e.sha256);
    } else if (e.pcr == 4 && e.type == ev::kEfiBootServicesApplication) {
      apps.push_back(e.sha256);
    } else if (IsDataBound(e.type)) {
      if (e.pcr != 7 || e.type != ev::kEfiVariableDriverConfig) continue;
      StatusOr<UefiVariable> var = ParseUefiVariable(e.data);
      if (!var.ok()) continue;  // CheckMeasuredBoot below names it
      std::optional<SecureBootVar> which = SecureBootVarOf(*var);
      if (!which) continue;
      Sha256Digest value = Hash(var->value);
      switch (*which) {
        case kSecureBoot:
          policy.require_secure_boot =
              var->value.size() == 1 && var->value[0] == 1;
          break;
        case kPk:
          add(policy.pk, value);
          break;
        case kKek:
          add(policy.kek, value);
          break;
        case kDb:
          add(policy.db, value);
          break;
        default:
          add(policy.dbx, value);
          break;
      }
    } else {
      MeasuredBootPolicy::Event listed{e.pcr, e.type, e.sha256};
      if (std::find(policy.events.begin(), policy.events.end(), listed) ==
          policy.events.end()) {
        policy.events.push_back(listed);
      }
    }
  }
  if (apps.size() > 3) {
    return PermissionDenied("event log: PCR 4 has " +
                            std::to_string(apps.size()) +
                            " boot applications; a measured-boot policy "
                            "allows at most 3 (shim, bootloader, kernel)");
  }
  std::vector<Sha256Digest>* stages[3] = {&policy.shim, &policy.bootloader,
                                          &policy.kernel};
  std::size_t first = apps.size() == 3 ? 0 : 1;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    stages[first + i]->push_back(apps[i]);
  }
  TVD_RETURN_IF_ERROR(CheckMeasuredBoot(log, policy));
  return policy;
}

}  // namespace tvd::attest
