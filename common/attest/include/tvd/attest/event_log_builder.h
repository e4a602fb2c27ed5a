// Writes synthetic but well-formed crypto-agile event logs (event_log.h):
// for tests, benchmarks, and the testbed's swtpm hosts, which have no
// firmware to write one. A builder gives three views of the same events:
//   bytes()    the log as binary_bios_measurements would hold it;
//   extends()  the digests to extend into a TPM, in order, so provisioning
//              makes an swtpm's PCRs 0-7 what the log says
//              (tpm2_pcrextend P:sha1=<hex>,sha256=<hex> for each);
//   pcrs()     the SHA-256 PCRs 0-7 the log replays to.
// The header's algorithms are SHA-1 and SHA-256 (as OVMF writes them), or
// SHA-256 alone. A StartupLocality event is written only when asked for;
// an swtpm started the usual way is at locality 0, so testbed logs omit it.
//
// Digests: Measure() hashes the event data (the data-bound types of
// measured_boot.h); MeasureImage() hashes a separate "image" (what firmware
// does for code: the data only says where the image was). Event() takes the
// digests as given, for logs that must be wrong on purpose.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/attest/event_log.h"
#include "tvd/attest/measured_boot.h"
#include "tvd/sha256.h"

namespace tvd::attest {

using Sha1Digest = std::array<std::uint8_t, 20>;

class EventLogBuilder {
 public:
  explicit EventLogBuilder(bool with_sha1 = true);

  // A StartupLocality EV_NO_ACTION event; call before any PCR 0 event.
  EventLogBuilder& StartupLocality(std::uint8_t locality);

  EventLogBuilder& Event(std::uint32_t pcr, std::uint32_t type,
                         const Sha256Digest& sha256, const Sha1Digest& sha1,
                         std::span<const std::uint8_t> data);
  EventLogBuilder& Measure(std::uint32_t pcr, std::uint32_t type,
                           std::span<const std::uint8_t> data);
  EventLogBuilder& Measure(std::uint32_t pcr, std::uint32_t type,
                           std::string_view data);
  EventLogBuilder& MeasureImage(std::uint32_t pcr, std::uint32_t type,
                                std::span<const std::uint8_t> image,
                                std::span<const std::uint8_t> data);

  // The usual events, each as firmware writes it.
  // PCR 0 EV_S_CRTM_VERSION: the version as a NUL-terminated UCS-2 string.
  EventLogBuilder& CrtmVersion(std::string_view version);
  // PCR 0 EV_EFI_PLATFORM_FIRMWARE_BLOB of `image` (data: base, length).
  EventLogBuilder& FirmwareBlob(std::string_view image);
  // PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG: SecureBoot (one byte), PK, KEK
  // (EFI_GLOBAL_VARIABLE), db, dbx (EFI_IMAGE_SECURITY_DATABASE).
  EventLogBuilder& SecureBootVariable(std::string_view name,
                                      std::span<const std::uint8_t> value);
  EventLogBuilder& SecureBootVariable(std::string_view name,
                                      std::string_view value);
  // PCR `pcr` EV_EFI_ACTION with `text` (no terminator, as firmware logs
  // it).
  EventLogBuilder& Action(std::uint32_t pcr, std::string_view text);
  // EV_SEPARATOR with 4 zero bytes.
  EventLogBuilder& Separator(std::uint32_t pcr);
  // PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION of `image` (data: a
  // UEFI_IMAGE_LOAD_EVENT with an empty device path).
  EventLogBuilder& BootApplication(std::string_view image);

  std::vector<std::uint8_t> bytes() const;
  struct Extend {
    std::uint32_t pcr = 0;
    Sha256Digest sha256{};
    Sha1Digest sha1{};  // zeros without the SHA-1 bank
  };
  // Every event but EV_NO_ACTION, in log order, PCRs 8-23 included.
  const std::vector<Extend>& extends() const { return extends_; }
  EventLogPcrs pcrs() const;

 private:
  bool with_sha1_;
  std::vector<std::uint8_t> events_;  // the TCG_PCR_EVENT2s
  std::vector<Extend> extends_;
  std::optional<std::uint8_t> locality_;
};

// A UEFI_VARIABLE_DATA structure (measured_boot.h) for `name` (ASCII).
std::vector<std::uint8_t> UefiVariableData(
    const std::array<std::uint8_t, 16>& guid, std::string_view name,
    std::span<const std::uint8_t> value);

// A typical UEFI boot of a host of about `events` events (at least 40):
// CRTM version and firmware volumes in PCR 0, handoff tables and boot
// variables in PCR 1, option ROM drivers in PCR 2, a boot attempt and the
// GPT in PCRs 4-5, Secure Boot enabled with PK, KEK, db and a 4 KB dbx in
// PCR 7, separators in PCRs 0-7, shim, grub and a kernel in PCR 4, and the
// boot loader's commands in PCRs 8-9 filling up to `events`. `seed` makes
// the firmware, loader and key contents differ between hosts. `policy` is
// the measured-boot policy that accepts exactly this boot (its opaque PCR 1
// and 2 events listed).
struct SyntheticBoot {
  EventLogBuilder log;
  MeasuredBootPolicy policy;
};
SyntheticBoot MakeTypicalBoot(std::string_view seed, std::size_t events = 100);

}  // namespace tvd::attest
