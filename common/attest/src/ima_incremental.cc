#include "tvd/attest/ima_incremental.h"

#include <algorithm>

namespace tvd::attest {
namespace {

ImaVerdict NeedFull(std::string reason) {
  ImaVerdict v;
  v.path = ImaReplayPath::kIncremental;
  v.need_full_log = std::move(reason);
  return v;
}

// Why `kept` cannot be continued by this quote; empty when it can.
std::string WhyNotContinue(const ImaEvidence& evidence,
                           const ImaQuoteFacts& quote,
                           const ImaReplayState* kept,
                           const Sha256Digest& challenged_pcr10) {
  if (kept == nullptr) return "no replay state is kept for this host";
  if (kept->entries != evidence.offset || kept->pcr10 != challenged_pcr10) {
    return "the kept replay state changed since the challenge";
  }
  if (!std::equal(kept->ak_name.begin(), kept->ak_name.end(),
                  quote.ak_name.begin(), quote.ak_name.end())) {
    return "the quote is signed by another AK than the kept state's";
  }
  if (kept->reset_count != quote.reset_count) {
    return "TPM reset count changed (" + std::to_string(kept->reset_count) +
           " -> " + std::to_string(quote.reset_count) + ")";
  }
  if (kept->restart_count != quote.restart_count) {
    return "TPM restart count changed (" + std::to_string(kept->restart_count) +
           " -> " + std::to_string(quote.restart_count) + ")";
  }
  if (quote.boot_pcrs == nullptr) return "PCRs 0-9 were not quoted";
  Sha256Digest boot = BootAggregate(*quote.boot_pcrs);
  if (boot != kept->boot_aggregate) {
    return "PCRs 0-9 changed since the kept state (boot_aggregate " +
           ToHex(kept->boot_aggregate) + " -> " + ToHex(boot) + ")";
  }
  return {};
}

Status CheckCount(const ImaEvidence& evidence, const ImaReplay& replay) {
  if (replay.entries == evidence.entries) return Status::Ok();
  return InvalidArgument("evidence counts " + std::to_string(evidence.entries) +
                         " IMA entries but its log has " +
                         std::to_string(replay.entries - evidence.offset) +
                         " from entry " + std::to_string(evidence.offset));
}

}  // namespace

ImaVerdict VerifyImaEvidence(const ImaEvidence& evidence,
                             const ImaAllowlist& allowlist,
                             const ImaQuoteFacts& quote,
                             const ImaReplayState* kept,
                             const Sha256Digest& challenged_pcr10) {
  ImaVerdict verdict;
  ImaReplay start;
  if (evidence.offset != 0) {
    std::string why = WhyNotContinue(evidence, quote, kept, challenged_pcr10);
    if (!why.empty()) return NeedFull(std::move(why));
    verdict.path = ImaReplayPath::kIncremental;
    start.entries = kept->entries;
    start.pcr10 = kept->pcr10;
  }
  // Lines are numbered from start.entries + 1, so a refusal names the same
  // line as the full replay would.
  StatusOr<ImaReplay> replay =
      ReplayImaLogFrom(evidence.log, start, &allowlist, quote.boot_pcrs);
  if (!replay.ok()) {
    verdict.status = replay.status();
    return verdict;
  }
  verdict.status = CheckCount(evidence, *replay);
  if (!verdict.status.ok()) return verdict;
  if (replay->pcr10 != quote.pcr10) {
    if (verdict.path == ImaReplayPath::kIncremental) {
      return NeedFull("incremental replay gives PCR 10 " +
                      ToHex(replay->pcr10) + " but the quoted PCR 10 is " +
                      ToHex(quote.pcr10));
    }
    verdict.status =
        PermissionDenied("IMA log replay gives PCR 10 " + ToHex(replay->pcr10) +
                         " but the quoted PCR 10 is " + ToHex(quote.pcr10) +
                         " (" + std::to_string(replay->entries) + " entries)");
    return verdict;
  }
  if (quote.boot_pcrs != nullptr) {
    ImaReplayState state;
    state.ak_name.assign(quote.ak_name.begin(), quote.ak_name.end());
    state.reset_count = quote.reset_count;
    state.restart_count = quote.restart_count;
    state.boot_aggregate = BootAggregate(*quote.boot_pcrs);
    state.entries = replay->entries;
    state.pcr10 = replay->pcr10;
    verdict.verified = std::move(state);
  }
  return verdict;
}

}  // namespace tvd::attest
