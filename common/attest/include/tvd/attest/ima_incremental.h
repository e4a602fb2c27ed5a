// The verifier's IMA check of one quote, replaying only the entries that
// are new since the host's last good quote when it can. Pure: no I/O, no
// shared state; the state kept between quotes is passed in and handed back
// (ima_replay_cache.h keeps it per host).
//
// The protocol (messages.h, docs/master.md "Incremental re-attestation"):
// the challenge tells the host where the master's kept state ends
// (ima_from = N entries, replaying to ima_pcr10); the host sends only its
// entries from index N on, or its whole log when its own first N entries do
// not replay to ima_pcr10 (a reboot, a shorter log) or the challenge says 0.
//
// Full replay (offset 0): every entry parsed, its template hash checked,
// checked against the allowlist and the boot_aggregate rules, extended from
// zero; the end value must be the quoted PCR 10. About 370 ns of CPU per
// entry: tens of milliseconds for a host up for months.
//
// Incremental replay (offset N > 0, from a kept state of N entries): only
// the new entries are parsed and checked, each exactly as the full replay
// checks it at its line number (N+1, N+2, ...), and extended from the kept
// PCR 10; the end value must be the quoted PCR 10. The cost depends on the
// number of new entries only.
//
// The guarantee: the PCR chain binds the verified prefix. PCR 10 is a hash
// chain from zero, extended only by the TPM and quoted under a signature of
// the enrolled AK. If the kept value (the chain over the N entries verified
// before, with the same TPM reset and restart counts) extended with the new
// entries gives the quoted value, then the measurements the TPM holds are
// exactly the N verified entries followed by the new ones: any other
// sequence giving that value is a SHA-256 collision. So every measurement
// behind the quote has passed the allowlist, now or at an earlier good
// quote against the same allowlist (the kept state is keyed by the
// allowlist's fingerprint). Old entries are never sent again, so an old
// entry cannot be "edited" on the wire any more: only the new entries are
// text the master reads, and an edited one is refused ("IMA log line N:
// template hash does not match the entry's data (entry edited?)").
//
// Fallback: when the kept state does not apply, the verdict is "send the
// whole log" (need_full_log) with the reason, and the master asks again
// with ima_from = 0 (one more round; the full replay then decides):
//   "no replay state is kept for this host"
//   "the kept replay state changed since the challenge"
//   "the quote is signed by another AK than the kept state's"
//   "TPM reset count changed (R -> R')"
//   "TPM restart count changed (R -> R')"
//   "PCRs 0-9 were not quoted"
//   "PCRs 0-9 changed since the kept state (boot_aggregate <hex> -> <hex>)"
//   "incremental replay gives PCR 10 <hex> but the quoted PCR 10 is <hex>"
// A new entry that breaks a rule is refused at once, with the full
// replay's reason for that line: it would be refused by the full replay
// too, at the same line.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/attest/ima_log.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

// What a good quote verified, kept until the host's next quote.
struct ImaReplayState {
  std::vector<std::uint8_t> ak_name;  // the AK that signed the quote
  std::uint32_t reset_count = 0;      // its TPMS_CLOCK_INFO counters
  std::uint32_t restart_count = 0;
  Sha256Digest boot_aggregate{};  // BootAggregate() of its PCRs 0-9
  std::uint64_t entries = 0;      // entries verified
  Sha256Digest pcr10{};           // their replay = the quoted PCR 10
  bool operator==(const ImaReplayState&) const = default;
};

// What the TPM signed (all checked before the IMA part).
struct ImaQuoteFacts {
  std::span<const std::uint8_t> ak_name;
  std::uint32_t reset_count = 0;
  std::uint32_t restart_count = 0;
  const BootPcrs* boot_pcrs = nullptr;  // null when PCRs 0-9 were not quoted
  Sha256Digest pcr10{};
};

// What the host sent (Evidence's IMA fields).
struct ImaEvidence {
  std::string_view log;  // entries from index `offset` on
  std::uint64_t offset = 0;
  std::uint64_t entries = 0;  // the host's total: offset + lines in `log`
};

enum class ImaReplayPath {
  kFull,         // the whole log was replayed
  kIncremental,  // only the new entries were replayed
};

struct ImaVerdict {
  // OK, or the refusal (ReplayImaLog's reasons; PermissionDenied "IMA log
  // replay gives PCR 10 <hex> but the quoted PCR 10 is <hex> (N
  // entries)"; InvalidArgument "evidence counts E IMA entries but its log
  // has N from entry O"). Meaningless when need_full_log is set.
  Status status;
  ImaReplayPath path = ImaReplayPath::kFull;
  // Non-empty: the kept state did not apply; ask for the whole log. The
  // reason is one of the fallback reasons above.
  std::string need_full_log;
  // On OK with PCRs 0-9 quoted: the state to keep for the next quote.
  std::optional<ImaReplayState> verified;
};

// Checks the host's IMA evidence against `allowlist` and the quote.
// `evidence.offset` must be 0 or the challenge's ima_from (the caller
// checks that). With offset > 0, `kept` is the state kept for the host now
// (null if none) and `challenged_pcr10` the ima_pcr10 the challenge
// carried: the kept state applies only if it is still the one the
// challenge was built from. Never throws; bad input is a refusal.
ImaVerdict VerifyImaEvidence(const ImaEvidence& evidence,
                             const ImaAllowlist& allowlist,
                             const ImaQuoteFacts& quote,
                             const ImaReplayState* kept,
                             const Sha256Digest& challenged_pcr10);

}  // namespace tvd::attest
