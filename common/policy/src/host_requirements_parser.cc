#include "tvd/policy/host_requirements_parser.h"

#include <map>
#include <optional>
#include <tuple>

#include "parse_parts.h"
#include "tvd/policy/policy_error.h"
#include "tvd/policy/values.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

namespace internal {

namespace {

StatusOr<PcrRequirement> ReadPcr(const ElementReader& r) {
  TVD_RETURN_IF_ERROR(r.AllowOnly({"bank", "index"}));
  PcrRequirement pcr;
  TVD_ASSIGN_OR_RETURN(pcr.bank, r.Required("bank"));
  if (pcr.bank != "sha256") {
    return r.AttrError(
        "bank", "attribute 'bank' must be 'sha256', got " + Quote(pcr.bank));
  }
  TVD_ASSIGN_OR_RETURN(std::string index, r.Required("index"));
  const auto idx = ParseDecimal(index, 0, kMaxPcrIndex);
  if (!idx) {
    return r.AttrError(
        "index",
        "attribute 'index' must be an integer in 0..23, got " + Quote(index));
  }
  pcr.index = static_cast<int>(*idx);
  std::map<Sha256Digest, int> first;
  TVD_RETURN_IF_ERROR(
      r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
        ElementReader c(e, r.file());
        if (c.name() != "known-good") return r.UnknownChild(e);
        TVD_RETURN_IF_ERROR(c.AllowOnly({"value"}));
        TVD_RETURN_IF_ERROR(c.Empty());
        TVD_ASSIGN_OR_RETURN(Sha256Digest d, ReadDigest(c, "value"));
        auto [it, fresh] = first.emplace(d, c.line());
        if (!fresh) {
          return c.Error("duplicate value for PCR " +
                         std::to_string(pcr.index) + " (first at line " +
                         std::to_string(it->second) + ")");
        }
        pcr.known_good.push_back(d);
        return Status::Ok();
      }));
  if (pcr.known_good.empty()) return r.Error("needs at least one <known-good>");
  return pcr;
}

StatusOr<ImaAllowlistRef> ReadImaAllowlist(const ElementReader& r) {
  TVD_RETURN_IF_ERROR(r.AllowOnly({"path", "sha256"}));
  TVD_RETURN_IF_ERROR(r.Empty());
  ImaAllowlistRef ref;
  TVD_ASSIGN_OR_RETURN(ref.path, r.Required("path"));
  if (!IsAbsolutePath(ref.path)) {
    return r.AttrError(
        "path",
        "attribute 'path' must be an absolute path, got " + Quote(ref.path));
  }
  TVD_ASSIGN_OR_RETURN(ref.sha256, ReadDigest(r, "sha256"));
  return ref;
}

// The event types a policy may name in <event type="...">: the TCG PC Client
// PFP names (as tvd/attest/event_log.h spells them; a test keeps the two
// tables equal), or the value as 0x and 8 hex digits.
struct NamedEventType {
  std::string_view name;
  std::uint32_t type;
};
constexpr NamedEventType kEventTypes[] = {
    {"EV_PREBOOT_CERT", 0x0},
    {"EV_POST_CODE", 0x1},
    {"EV_NO_ACTION", 0x3},
    {"EV_SEPARATOR", 0x4},
    {"EV_ACTION", 0x5},
    {"EV_EVENT_TAG", 0x6},
    {"EV_S_CRTM_CONTENTS", 0x7},
    {"EV_S_CRTM_VERSION", 0x8},
    {"EV_CPU_MICROCODE", 0x9},
    {"EV_PLATFORM_CONFIG_FLAGS", 0xA},
    {"EV_TABLE_OF_DEVICES", 0xB},
    {"EV_COMPACT_HASH", 0xC},
    {"EV_IPL", 0xD},
    {"EV_IPL_PARTITION_DATA", 0xE},
    {"EV_NONHOST_CODE", 0xF},
    {"EV_NONHOST_CONFIG", 0x10},
    {"EV_NONHOST_INFO", 0x11},
    {"EV_OMIT_BOOT_DEVICE_EVENTS", 0x12},
    {"EV_EFI_VARIABLE_DRIVER_CONFIG", 0x80000001},
    {"EV_EFI_VARIABLE_BOOT", 0x80000002},
    {"EV_EFI_BOOT_SERVICES_APPLICATION", 0x80000003},
    {"EV_EFI_BOOT_SERVICES_DRIVER", 0x80000004},
    {"EV_EFI_RUNTIME_SERVICES_DRIVER", 0x80000005},
    {"EV_EFI_GPT_EVENT", 0x80000006},
    {"EV_EFI_ACTION", 0x80000007},
    {"EV_EFI_PLATFORM_FIRMWARE_BLOB", 0x80000008},
    {"EV_EFI_HANDOFF_TABLES", 0x80000009},
    {"EV_EFI_PLATFORM_FIRMWARE_BLOB2", 0x8000000A},
    {"EV_EFI_HANDOFF_TABLES2", 0x8000000B},
    {"EV_EFI_VARIABLE_BOOT2", 0x8000000C},
    {"EV_EFI_HCRTM_EVENT", 0x80000010},
    {"EV_EFI_VARIABLE_AUTHORITY", 0x800000E0},
};

std::optional<std::uint32_t> ParseEventType(std::string_view text) {
  for (const NamedEventType& t : kEventTypes) {
    if (t.name == text) return t.type;
  }
  if (text.size() != 10 || text.substr(0, 2) != "0x") return std::nullopt;
  std::uint32_t v = 0;
  for (char c : text.substr(2)) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  return v;
}

StatusOr<MeasuredBootRequirement> ReadMeasuredBoot(const ElementReader& r) {
  TVD_RETURN_IF_ERROR(r.AllowOnly({"secure-boot"}));
  MeasuredBootRequirement mb;
  TVD_ASSIGN_OR_RETURN(std::string secure_boot, r.Required("secure-boot"));
  if (secure_boot != "required" && secure_boot != "not-required") {
    return r.AttrError("secure-boot",
                       "attribute 'secure-boot' must be 'required' or "
                       "'not-required', got " +
                           Quote(secure_boot));
  }
  mb.require_secure_boot = secure_boot == "required";
  struct List {
    std::string_view element;
    std::vector<Sha256Digest>* digests;
  };
  const List lists[] = {{"firmware", &mb.firmware},
                        {"shim", &mb.shim},
                        {"bootloader", &mb.bootloader},
                        {"kernel", &mb.kernel},
                        {"pk", &mb.pk},
                        {"kek", &mb.kek},
                        {"db", &mb.db},
                        {"dbx", &mb.dbx}};
  // First line of each (element, digest) and (pcr, type, digest).
  std::map<std::pair<std::string, Sha256Digest>, int> first;
  std::map<std::tuple<int, std::uint32_t, Sha256Digest>, int> first_event;
  TVD_RETURN_IF_ERROR(
      r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
        ElementReader c(e, r.file());
        TVD_RETURN_IF_ERROR(c.Empty());
        if (c.name() == "event") {
          TVD_RETURN_IF_ERROR(c.AllowOnly({"pcr", "type", "sha256"}));
          MeasuredBootRequirement::Event ev;
          TVD_ASSIGN_OR_RETURN(std::string pcr, c.Required("pcr"));
          const auto idx = ParseDecimal(pcr, 0, 7);
          if (!idx) {
            return c.AttrError("pcr",
                               "attribute 'pcr' must be an integer in 0..7, "
                               "got " +
                                   Quote(pcr));
          }
          ev.pcr = static_cast<int>(*idx);
          TVD_ASSIGN_OR_RETURN(std::string type, c.Required("type"));
          const auto t = ParseEventType(type);
          if (!t) {
            return c.AttrError("type",
                               "attribute 'type' must be a TCG event type "
                               "name (EV_...) or 0x and 8 hex digits, got " +
                                   Quote(type));
          }
          ev.type = *t;
          TVD_ASSIGN_OR_RETURN(ev.sha256, ReadDigest(c, "sha256"));
          auto [it, fresh] = first_event.emplace(
              std::make_tuple(ev.pcr, ev.type, ev.sha256), c.line());
          if (!fresh) {
            return c.Error("duplicate event (first at line " +
                           std::to_string(it->second) + ")");
          }
          mb.events.push_back(ev);
          return Status::Ok();
        }
        for (const List& l : lists) {
          if (c.name() != l.element) continue;
          TVD_RETURN_IF_ERROR(c.AllowOnly({"sha256"}));
          TVD_ASSIGN_OR_RETURN(Sha256Digest d, ReadDigest(c, "sha256"));
          auto [it, fresh] = first.emplace(
              std::make_pair(std::string(l.element), d), c.line());
          if (!fresh) {
            return c.Error("duplicate value (first at line " +
                           std::to_string(it->second) + ")");
          }
          l.digests->push_back(d);
          return Status::Ok();
        }
        return r.UnknownChild(e);
      }));
  if (mb.require_secure_boot &&
      (mb.pk.empty() || mb.kek.empty() || mb.db.empty())) {
    return r.Error(
        "secure-boot='required' needs at least one <pk>, <kek> and <db>");
  }
  return mb;
}

}  // namespace

StatusOr<HostRequirements> ReadHostRequirements(
    const ElementReader& r, std::initializer_list<std::string_view> extra) {
  std::vector<std::string_view> allowed(extra);
  allowed.push_back("allow-no-tpm");
  allowed.push_back("attestation-interval");
  for (const tinyxml2::XMLAttribute* a = r.element().FirstAttribute();
       a != nullptr; a = a->Next()) {
    bool known = false;
    for (std::string_view ok : allowed) known = known || ok == a->Name();
    if (!known) {
      return r.AttrError(a->Name(), "unknown attribute " + Quote(a->Name()));
    }
  }
  HostRequirements hr;
  TVD_ASSIGN_OR_RETURN(std::string no_tpm, r.Required("allow-no-tpm"));
  const auto b = ParseBool(no_tpm);
  if (!b) {
    return r.AttrError("allow-no-tpm",
                       "attribute 'allow-no-tpm' must be 'true' or 'false', "
                       "got " +
                           Quote(no_tpm));
  }
  hr.allow_no_tpm = *b;
  TVD_ASSIGN_OR_RETURN(std::string interval,
                       r.Required("attestation-interval"));
  const auto secs = ParseDecimal(interval, 1, kMaxAttestationIntervalSeconds);
  if (!secs) {
    return r.AttrError("attestation-interval",
                       "attribute 'attestation-interval' must be an integer "
                       "in 1..86400 (seconds), got " +
                           Quote(interval));
  }
  hr.attestation_interval_seconds = static_cast<std::uint32_t>(*secs);

  std::map<int, int> pcr_lines;
  int ima_line = 0;
  int measured_boot_line = 0;
  TVD_RETURN_IF_ERROR(
      r.ForEachChild([&](const tinyxml2::XMLElement& e) -> Status {
        ElementReader c(e, r.file());
        if (c.name() == "pcr") {
          TVD_ASSIGN_OR_RETURN(PcrRequirement pcr, ReadPcr(c));
          auto [it, fresh] = pcr_lines.emplace(pcr.index, c.line());
          if (!fresh) {
            return c.Error("duplicate PCR index " + std::to_string(pcr.index) +
                           " (first at line " + std::to_string(it->second) +
                           ")");
          }
          hr.pcrs.push_back(std::move(pcr));
        } else if (c.name() == "ima-allowlist") {
          if (ima_line != 0) return r.DuplicateChild(e, ima_line);
          ima_line = c.line();
          TVD_ASSIGN_OR_RETURN(hr.ima_allowlist, ReadImaAllowlist(c));
        } else if (c.name() == "measured-boot") {
          if (measured_boot_line != 0) {
            return r.DuplicateChild(e, measured_boot_line);
          }
          measured_boot_line = c.line();
          TVD_ASSIGN_OR_RETURN(hr.measured_boot, ReadMeasuredBoot(c));
        } else {
          return r.UnknownChild(e);
        }
        return Status::Ok();
      }));
  if (hr.pcrs.empty() && !hr.ima_allowlist && !hr.measured_boot) {
    return r.Error(
        "needs at least one <pcr>, <ima-allowlist> or <measured-boot>");
  }
  return hr;
}

}  // namespace internal

StatusOr<HostRequirements> ParseHostRequirements(std::string_view xml,
                                                 std::string_view source) {
  TVD_ASSIGN_OR_RETURN(auto doc, ParseXml(xml, source));
  return ReadHostRequirements(*doc, source);
}

StatusOr<HostRequirements> ReadHostRequirements(
    const tinyxml2::XMLDocument& doc, std::string_view source) {
  TVD_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root,
                       internal::PolicyRoot(doc, source, "host-requirements"));
  return internal::ReadHostRequirements(internal::ElementReader(*root, source),
                                        {"xmlns"});
}

StatusOr<HostRequirements> LoadHostRequirementsFile(const std::string& path) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadPolicyFile(path));
  return ParseHostRequirements(text, path);
}

}  // namespace tvd::policy
