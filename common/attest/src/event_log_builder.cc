#include "tvd/attest/event_log_builder.h"

#include <algorithm>

#include "small_digest.h"

namespace tvd::attest {
namespace {

void U16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void U32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void U64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void Append(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> b) {
  out.insert(out.end(), b.begin(), b.end());
}
std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Sha256Digest Sha256Of(std::span<const std::uint8_t> b) {
  Sha256Digest d;
  internal::Sha256Small(b, {}, d.data());
  return d;
}
Sha1Digest Sha1Of(std::span<const std::uint8_t> b) {
  Sha1Digest d;
  internal::Sha1Small(b, d.data());
  return d;
}

}  // namespace

EventLogBuilder::EventLogBuilder(bool with_sha1) : with_sha1_(with_sha1) {}

EventLogBuilder& EventLogBuilder::StartupLocality(std::uint8_t locality) {
  std::span<const std::uint8_t> signature =
      AsBytes(std::string_view("StartupLocality\0", 16));
  std::vector<std::uint8_t> data(signature.begin(), signature.end());
  data.push_back(locality);
  locality_ = locality;
  Event(0, ev::kNoAction, Sha256Digest{}, Sha1Digest{}, data);
  return *this;
}

EventLogBuilder& EventLogBuilder::Event(std::uint32_t pcr, std::uint32_t type,
                                        const Sha256Digest& sha256,
                                        const Sha1Digest& sha1,
                                        std::span<const std::uint8_t> data) {
  U32(events_, pcr);
  U32(events_, type);
  U32(events_, with_sha1_ ? 2 : 1);
  if (with_sha1_) {
    U16(events_, kTpmAlgSha1);
    Append(events_, sha1);
  }
  U16(events_, kTpmAlgSha256);
  Append(events_, sha256);
  U32(events_, static_cast<std::uint32_t>(data.size()));
  Append(events_, data);
  if (type != ev::kNoAction) {
    extends_.push_back({pcr, sha256, with_sha1_ ? sha1 : Sha1Digest{}});
  }
  return *this;
}

EventLogBuilder& EventLogBuilder::Measure(std::uint32_t pcr, std::uint32_t type,
                                          std::span<const std::uint8_t> data) {
  return Event(pcr, type, Sha256Of(data), Sha1Of(data), data);
}

EventLogBuilder& EventLogBuilder::Measure(std::uint32_t pcr, std::uint32_t type,
                                          std::string_view data) {
  return Measure(pcr, type, AsBytes(data));
}

EventLogBuilder& EventLogBuilder::MeasureImage(
    std::uint32_t pcr, std::uint32_t type, std::span<const std::uint8_t> image,
    std::span<const std::uint8_t> data) {
  return Event(pcr, type, Sha256Of(image), Sha1Of(image), data);
}

EventLogBuilder& EventLogBuilder::CrtmVersion(std::string_view version) {
  std::vector<std::uint8_t> data;
  for (char c : version) U16(data, static_cast<std::uint8_t>(c));
  U16(data, 0);
  return Measure(0, ev::kSCrtmVersion, data);
}

EventLogBuilder& EventLogBuilder::FirmwareBlob(std::string_view image) {
  std::vector<std::uint8_t> data;
  U64(data, 0x820000);
  U64(data, 0xe0000);
  return MeasureImage(0, ev::kEfiPlatformFirmwareBlob, AsBytes(image), data);
}

EventLogBuilder& EventLogBuilder::SecureBootVariable(
    std::string_view name, std::span<const std::uint8_t> value) {
  bool database = name == "db" || name == "dbx";
  return Measure(7, ev::kEfiVariableDriverConfig,
                 UefiVariableData(database ? kEfiImageSecurityDatabaseGuid
                                           : kEfiGlobalVariableGuid,
                                  name, value));
}

EventLogBuilder& EventLogBuilder::SecureBootVariable(std::string_view name,
                                                     std::string_view value) {
  return SecureBootVariable(name, AsBytes(value));
}

EventLogBuilder& EventLogBuilder::Action(std::uint32_t pcr,
                                         std::string_view text) {
  return Measure(pcr, ev::kEfiAction, text);
}

EventLogBuilder& EventLogBuilder::Separator(std::uint32_t pcr) {
  const std::uint8_t zero[4] = {};
  return Measure(pcr, ev::kSeparator, zero);
}

EventLogBuilder& EventLogBuilder::BootApplication(std::string_view image) {
  std::vector<std::uint8_t> data(32, 0);  // UEFI_IMAGE_LOAD_EVENT, no path
  return MeasureImage(4, ev::kEfiBootServicesApplication, AsBytes(image), data);
}

std::vector<std::uint8_t> EventLogBuilder::bytes() const {
  std::vector<std::uint8_t> spec;
  Append(spec, AsBytes(std::string_view("Spec ID Event03\0", 16)));
  U32(spec, 0);       // platform class: client
  spec.push_back(0);  // spec version minor
  spec.push_back(2);  // major
  spec.push_back(0);  // errata
  spec.push_back(2);  // uintnSize: 64-bit UINTN
  U32(spec, with_sha1_ ? 2 : 1);
  if (with_sha1_) {
    U16(spec, kTpmAlgSha1);
    U16(spec, 20);
  }
  U16(spec, kTpmAlgSha256);
  U16(spec, 32);
  spec.push_back(0);  // no vendor info

  std::vector<std::uint8_t> out;
  U32(out, 0);
  U32(out, ev::kNoAction);
  out.insert(out.end(), 20, 0);
  U32(out, static_cast<std::uint32_t>(spec.size()));
  Append(out, spec);
  Append(out, events_);
  return out;
}

EventLogPcrs EventLogBuilder::pcrs() const {
  EventLogPcrs pcrs{};
  if (locality_) pcrs[0][31] = *locality_;
  for (const Extend& e : extends_) {
    if (e.pcr < kEventLogPcrs) {
      internal::Sha256Small(pcrs[e.pcr], e.sha256, pcrs[e.pcr].data());
    }
  }
  return pcrs;
}

std::vector<std::uint8_t> UefiVariableData(
    const std::array<std::uint8_t, 16>& guid, std::string_view name,
    std::span<const std::uint8_t> value) {
  std::vector<std::uint8_t> out(guid.begin(), guid.end());
  U64(out, name.size());
  U64(out, value.size());
  for (char c : name) U16(out, static_cast<std::uint8_t>(c));
  Append(out, value);
  return out;
}

SyntheticBoot MakeTypicalBoot(std::string_view seed, std::size_t events) {
  std::string s(seed);
  SyntheticBoot boot;
  EventLogBuilder& log = boot.log;
  MeasuredBootPolicy& policy = boot.policy;
  auto listed = [&](std::uint32_t pcr, std::uint32_t type,
                    const std::string& image) {
    std::vector<std::uint8_t> data(16, 0);
    log.MeasureImage(pcr, type, AsBytes(image), data);
    policy.events.push_back({pcr, type, Sha256(image)});
  };

  // PCR 0: the CRTM and the firmware volumes.
  log.CrtmVersion("edk2-stable202402 " + s);
  for (int i = 0; i < 3; ++i) {
    std::string fv = "firmware volume " + std::to_string(i) + " " + s;
    log.FirmwareBlob(fv);
    policy.firmware.push_back(Sha256(fv));
  }
  // PCR 1: handoff tables (SMBIOS, ACPI) and the boot variables.
  listed(1, ev::kEfiHandoffTables2, "SMBIOS tables " + s);
  listed(1, ev::kEfiHandoffTables2, "ACPI tables " + s);
  const std::uint8_t order[] = {0, 0, 1, 0, 2, 0};
  log.Measure(1, ev::kEfiVariableBoot2,
              UefiVariableData(kEfiGlobalVariableGuid, "BootOrder", order));
  for (int i = 0; i < 3; ++i) {
    std::string option = "boot option " + std::to_string(i);
    log.Measure(
        1, ev::kEfiVariableBoot2,
        UefiVariableData(kEfiGlobalVariableGuid, "Boot000" + std::to_string(i),
                         AsBytes(option)));
  }
  // PCR 2: two option ROM drivers.
  listed(2, ev::kEfiBootServicesDriver, "virtio-net option ROM " + s);
  listed(2, ev::kEfiBootServicesDriver, "nvme option ROM " + s);
  // PCR 7: Secure Boot on, with its keys.
  const std::uint8_t on[] = {1};
  log.SecureBootVariable("SecureBoot", on);
  std::string pk = "PK list " + s, kek = "KEK list " + s, db = "db list " + s;
  std::string dbx = "dbx list " + s;
  dbx.resize(4096, 'x');
  log.SecureBootVariable("PK", pk);
  log.SecureBootVariable("KEK", kek);
  log.SecureBootVariable("db", db);
  log.SecureBootVariable("dbx", dbx);
  policy.require_secure_boot = true;
  policy.pk = {Sha256(pk)};
  policy.kek = {Sha256(kek)};
  policy.db = {Sha256(db)};
  policy.dbx = {Sha256(dbx)};
  // The boot attempt, then the separators.
  log.Action(4, "Calling EFI Application from Boot Option");
  for (std::uint32_t pcr = 0; pcr < kEventLogPcrs; ++pcr) log.Separator(pcr);
  // PCR 5: the GPT. PCR 7: the db entry that verified shim.
  log.Measure(5, ev::kEfiGptEvent, "GPT header and partitions " + s);
  log.Measure(7, ev::kEfiVariableAuthority,
              UefiVariableData(kEfiImageSecurityDatabaseGuid, "db",
                               AsBytes("db certificate " + s)));
  // PCR 4: shim, grub, the kernel.
  std::string shim = "shimx64.efi " + s, grub = "grubx64.efi " + s,
              kernel = "vmlinuz " + s;
  log.BootApplication(shim);
  log.BootApplication(grub);
  log.BootApplication(kernel);
  policy.shim = {Sha256(shim)};
  policy.bootloader = {Sha256(grub)};
  policy.kernel = {Sha256(kernel)};
  log.Action(5, "Exit Boot Services Invocation");
  log.Action(5, "Exit Boot Services Returned with Success");
  // PCRs 8-9: grub's commands and files, up to the size asked for.
  for (std::size_t i = 0; log.extends().size() < events; ++i) {
    log.Measure(8 + static_cast<std::uint32_t>(i % 2), ev::kIpl,
                "grub_cmd: set root=hd0,gpt2 " + std::to_string(i));
  }
  return boot;
}

}  // namespace tvd::attest
