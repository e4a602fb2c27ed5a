// Fuzzes the IMA measurement list parser and replay: any text gives entries
// or an error, and parsing and replaying agree on what is valid.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/attest/ima_log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::attest;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = ParseImaLog(text);
  ImaAllowlist allowlist;
  allowlist.Allow("/usr/bin/true", tvd::Sha256("true"));
  allowlist.Allow("boot_aggregate", tvd::Sha256("x"));
  allowlist.Allow("/usr/lib/with space.so", tvd::Sha256("lib"));
  auto replay = ReplayImaLog(text, nullptr);
  if (entries.ok() != replay.ok()) std::abort();
  if (entries.ok()) {
    if (replay->entries != entries->size()) std::abort();
    tvd::Sha256Digest pcr{};
    for (const ImaEntry& e : *entries)
      pcr = ExtendSha256(pcr, e.template_sha256);
    if (pcr != replay->pcr10) std::abort();
  }
  // The allowlist's shortcut (template digests looked up, not hashed) must
  // accept nothing the full check would not, and replay to the same value.
  auto checked = ReplayImaLog(text, &allowlist);
  if (checked.ok() && (!replay.ok() || checked->pcr10 != replay->pcr10)) {
    std::abort();
  }
  // With the quoted boot PCRs (all zero here) the first-entry and
  // boot_aggregate rules apply too: they only ever refuse more.
  BootPcrs boot{};
  auto anchored = ReplayImaLog(text, &allowlist, &boot);
  if (anchored.ok() && (!replay.ok() || anchored->pcr10 != replay->pcr10)) {
    std::abort();
  }
  return 0;
}
