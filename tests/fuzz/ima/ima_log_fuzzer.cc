// Fuzzes the IMA measurement list parser and replay: any text gives entries
// or an error, and parsing and replaying agree on what is valid. The
// incremental replay must agree with the full one: a log replayed as a
// prefix and then the rest (ReplayImaLogFrom), or verified as incremental
// evidence from the state its first half left (VerifyImaEvidence), gives
// the whole log's result and error text, or asks for the whole log exactly
// when the full replay's PCR 10 does not match.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/attest/ima_incremental.h"
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

  // Split after the first line break at or past the middle.
  std::size_t nl = text.find('\n', size / 2);
  std::size_t split = nl == std::string_view::npos ? size : nl + 1;
  std::string_view head = text.substr(0, split);
  std::string_view tail = text.substr(split);
  auto first = ReplayImaLog(head, &allowlist, &boot);
  if (!first.ok()) {
    if (anchored.status() != first.status()) std::abort();
    return 0;
  }
  auto rest = ReplayImaLogFrom(tail, *first, &allowlist, &boot);
  if (rest.status() != anchored.status()) std::abort();
  if (rest.ok() &&
      (rest->pcr10 != anchored->pcr10 || rest->entries != anchored->entries)) {
    std::abort();
  }
  // The verifier's view: the first half was a good quote, the whole log is
  // the next one (quoted PCR 10 = the whole log's replay, or a value it
  // does not reach).
  const std::uint8_t ak[] = {0, 11, 1};
  ImaQuoteFacts quote{ak, 1, 0, &boot, first->pcr10};
  ImaVerdict kept = VerifyImaEvidence({head, 0, first->entries}, allowlist,
                                      quote, nullptr, {});
  if (!kept.status.ok() || !kept.verified || !kept.need_full_log.empty()) {
    std::abort();
  }
  quote.pcr10 = anchored.ok() ? anchored->pcr10 : first->pcr10;
  if (!anchored.ok()) quote.pcr10[0] ^= 1;
  std::uint64_t lines = std::count(text.begin(), text.end(), '\n');
  ImaVerdict full =
      VerifyImaEvidence({text, 0, lines}, allowlist, quote, nullptr, {});
  ImaVerdict inc =
      VerifyImaEvidence({tail, first->entries, lines}, allowlist, quote,
                        &*kept.verified, kept.verified->pcr10);
  if (!full.need_full_log.empty()) std::abort();
  if (full.status.ok()) {
    if (!inc.status.ok() || !inc.need_full_log.empty() ||
        inc.verified != full.verified ||
        // (Evidence from entry 0 is a full replay by definition.)
        (first->entries != 0 && inc.path != ImaReplayPath::kIncremental)) {
      std::abort();
    }
  } else if (!inc.need_full_log.empty()) {
    // Only a PCR 10 mismatch sends the master back to the whole log.
    if (full.status.message().rfind("IMA log replay gives PCR 10 ", 0) != 0) {
      std::abort();
    }
  } else if (inc.status != full.status) {
    std::abort();
  }
  return 0;
}
