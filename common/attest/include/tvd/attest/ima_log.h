// The kernel's IMA measurement list in its ASCII form
// (securityfs ima/ascii_runtime_measurements), one entry per line:
//
//   <pcr> <template-hash> ima-ng <algo>:<file-digest> <path>
//
// <template-hash> is 40 hex digits (SHA-1: the classic file, whose column is
// the SHA-1 bank's template digest) or 64 hex digits (SHA-256: the per-bank
// ascii_runtime_measurements_sha256 file). <path> is the rest of the line.
// Only the ima-ng template is accepted; other templates are an error (their
// fields would be ambiguous in this form).
//
// Replay decision: we replay the SHA-256 bank of PCR 10, because the quote
// is over the SHA-256 bank (SHA-1 is not collision resistant). For every
// entry the ima-ng template data is rebuilt from the line,
//   u32le(len(d)) || d || u32le(len(n)) || n
//   d = "<algo>:" NUL <file digest bytes>,  n = <path> NUL
// (little-endian lengths: the kernel's canonical format and x86's native one)
// and its digest in the column's algorithm must equal the column, so an entry
// edited without fixing its hash is named by its line. The SHA-256 template
// digest is then extended: PCR = SHA-256(PCR || SHA-256(template data)),
// from 32 zero bytes. An entry whose column is all zeros is a measurement
// violation the kernel logged: it is extended with 32 bytes of 0xff, as the
// kernel does, and is refused when an allowlist is checked.
//
// boot_aggregate: the kernel's first entry, "boot_aggregate" with the digest
// of the boot PCRs. It is what ties the log to the quoted boot, so when an
// allowlist is checked it is accepted only as line 1, and its digest must be
// the one the kernel computes from the quote's PCR values. Kernels since 5.8
// ("ima: extend boot_aggregate with kernel measurements",
// ima_calc_boot_aggregate_tfm) hash, for any bank but SHA-1,
//   SHA-256(PCR0 || PCR1 || ... || PCR7 || PCR8 || PCR9)
// over that bank's values, PCRs 8 and 9 always included (zero or not), and
// pick the bank of IMA's hash algorithm when the TPM has it. We check the
// SHA-256 bank only: a log whose boot_aggregate is "sha1:" (SHA-1 bank, or a
// kernel older than 5.8 which hashed PCRs 0-7 only) is refused, because the
// quote is over the SHA-256 bank and cannot vouch for it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

inline constexpr std::uint32_t kImaPcr = 10;

// PCRs 0..9 of the SHA-256 bank, index = PCR number: what boot_aggregate
// summarises.
inline constexpr std::uint32_t kBootAggregatePcrCount = 10;
using BootPcrs = std::array<Sha256Digest, kBootAggregatePcrCount>;

// SHA-256(PCR0 || ... || PCR9): the boot_aggregate a kernel >= 5.8 logs for
// the SHA-256 bank.
Sha256Digest BootAggregate(const BootPcrs& pcrs);

// Known-good file digests (SHA-256) by path. The boot_aggregate entry is not
// looked up: it is checked against the quoted PCRs instead.
//
// Stored as one open-addressing table over (path, digest) pairs with the
// paths in a single arena, because the verifier looks up every entry of
// every log: a node-based map costs several cache misses per lookup.
class ImaAllowlist {
 public:
  // Adds (path, digest); a path may have several allowed digests.
  void Allow(std::string_view path, const Sha256Digest& digest);
  // True when `path` is listed with `digest`.
  bool Allows(std::string_view path, const Sha256Digest& digest) const;

  // The ima-ng template digests of an allowed entry, computed once in
  // Allow(): a listed entry's template hash is then a lookup instead of a
  // hash during replay. Null when (path, digest) is not listed.
  struct TemplateDigests {
    Sha256Digest sha256{};
    std::array<std::uint8_t, 20> sha1{};
  };
  const TemplateDigests* Lookup(std::string_view path,
                                const Sha256Digest& digest) const;

  // The same lookup straight from a log line's text, without decoding hex:
  // `digest_hex` is the file digest as 64 lower-case hex digits. The
  // template digests come back in the lower-case hex the kernel prints, so a
  // line's template-hash column can be compared as text. nullopt when not
  // listed (or not lower-case hex, which the caller then checks the slow way).
  struct HexMatch {
    const Sha256Digest* digest;
    const TemplateDigests* templates;
    std::string_view template_sha256_hex;
    std::string_view template_sha1_hex;
  };
  std::optional<HexMatch> LookupHex(std::string_view path,
                                    std::string_view digest_hex) const;
  // Number of distinct (path, digest) pairs.
  std::size_t size() const { return table_ ? table_->count : 0; }

  // What identifies the list's contents: a SHA-256 chain over the distinct
  // (path, digest) pairs in the order they were first added, from 32 zero
  // bytes. Two lists with the same pairs added in the same order have the
  // same fingerprint; any other difference changes it (a list built in
  // another order merely looks different, which is the safe side). The
  // incremental replay (ima_replay_cache.h) keys its kept state by it, so a
  // prefix checked against one list is never taken as checked against
  // another.
  const Sha256Digest& fingerprint() const;

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t path_offset = 0;
    std::uint32_t path_length = 0;
    // In the arena after the path: digest, template SHA-256 and template
    // SHA-1 as lower-case hex (64 + 64 + 40 characters).
    std::uint32_t hex_offset = 0;
    Sha256Digest digest{};
    TemplateDigests templates;
    bool used = false;
  };
  static std::uint64_t HashOf(std::string_view path, const Sha256Digest& d);
  const Slot* Find(std::string_view path, const Sha256Digest& digest,
                   std::uint64_t hash) const;
  // The contents, shared between copies of the list and copied on the
  // first Allow() of a copy that shares them: requirements that hold a
  // list are copied for every attestation round, and copying a
  // 100,000-entry table costs about 11 ms of CPU, 200 times an incremental
  // IMA check. A list is immutable while it is shared, so copies may be read
  // on many threads.
  struct Table {
    std::string paths;        // every path and its hex texts, back to back
    std::vector<Slot> slots;  // power-of-two size, at most half full
    std::size_t count = 0;
    Sha256Digest fingerprint{};
  };
  static void Insert(Table& table, const Slot& slot);

  std::shared_ptr<Table> table_;  // null: empty
};

// One parsed line.
struct ImaEntry {
  std::size_t line = 0;  // 1-based
  std::uint32_t pcr = 0;
  bool violation = false;        // all-zero template hash column
  std::string file_digest_algo;  // "sha256", "sha1", ...
  std::vector<std::uint8_t> file_digest;
  std::string path;
  Sha256Digest template_sha256{};  // SHA-256 of the template data
};

// Parses the whole list, checking each entry's template hash column against
// its data. InvalidArgument "IMA log line N: <what>" for the first bad line.
StatusOr<std::vector<ImaEntry>> ParseImaLog(std::string_view text);

struct ImaReplay {
  Sha256Digest pcr10{};
  std::size_t entries = 0;  // lines replayed
};

// Parses, checks and replays `text` in one pass (no per-entry allocation),
// and when `allowlist` is given checks every entry (PermissionDenied, first
// failing line):
//   "IMA log line N: <path> with sha256:<digest> is not in the allowlist"
//   "IMA log line N: <path> is a measurement violation"
//   "IMA log line 1: the first entry must be boot_aggregate, not <path>"
//   "IMA log line N: boot_aggregate is accepted only as the first entry"
//   "IMA log line 1: boot_aggregate is <algo>:<hex>; only a sha256
//    boot_aggregate can be checked against the quote's SHA-256 PCRs"
//   "IMA log line 1: boot_aggregate cannot be checked: PCRs 0-9 were not
//    quoted"                                   (boot_pcrs is null)
//   "IMA log line 1: boot_aggregate sha256:<hex> does not match PCRs 0-9 of
//    the quote (expected sha256:<hex>)"
// The first-entry rule applies only when `boot_pcrs` is given (the
// verifier's case); without an allowlist nothing but the format is checked.
// Parse errors as ParseImaLog.
StatusOr<ImaReplay> ReplayImaLog(std::string_view text,
                                 const ImaAllowlist* allowlist,
                                 const BootPcrs* boot_pcrs = nullptr);

// The same replay continued: `text` holds the lines that follow a prefix
// whose replay gave `start` (PCR 10, entries). Its lines are numbered from
// start.entries + 1, PCR 10 is extended from start.pcr10, and the result
// counts the prefix too (entries is a total). Every line is
// checked exactly as ReplayImaLog checks it at that line number (the
// first-entry rule therefore applies only when start.entries is 0), so
//   ReplayImaLogFrom(B, *ReplayImaLog(A, l, p), l, p)
// and ReplayImaLog(A + B, l, p) give the same result and the same error for
// any split of a log at a line boundary.
StatusOr<ImaReplay> ReplayImaLogFrom(std::string_view text,
                                     const ImaReplay& start,
                                     const ImaAllowlist* allowlist,
                                     const BootPcrs* boot_pcrs = nullptr);

// The ASCII line for an ima-ng entry with a SHA-256 file digest, with the
// template-hash column in SHA-256 (`sha256_column`) or SHA-1 form, and the
// SHA-256 template digest to extend PCR 10 with. For tests, tools and
// benchmarks that write their own logs.
struct ImaLine {
  std::string text;  // without newline
  Sha256Digest template_sha256{};
};
ImaLine MakeImaNgLine(std::string_view path, const Sha256Digest& file_digest,
                      bool sha256_column = true);
// The boot_aggregate line a kernel >= 5.8 writes for these PCR values.
ImaLine MakeBootAggregateLine(const BootPcrs& pcrs);

// PCR = SHA-256(PCR || digest).
Sha256Digest ExtendSha256(const Sha256Digest& pcr, const Sha256Digest& digest);

}  // namespace tvd::attest
