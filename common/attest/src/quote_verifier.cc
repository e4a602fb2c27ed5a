#include "tvd/attest/quote_verifier.h"

#include "tvd/attest/quote_check.h"

namespace tvd::attest {

Sha256Digest QualifyingData(const Nonce& nonce,
                            std::span<const std::uint8_t> channel_binding) {
  Sha256Hasher h;
  h.Update(nonce);
  h.Update(channel_binding);
  return h.Finish();
}

ImaStart QuoteVerifier::ImaStartFor(const pki::Identity& host,
                                    const TcbRequirements& requirements) const {
  if (ima_cache_ == nullptr || !requirements.ima) return {};
  auto kept = ima_cache_->Find(host, requirements.ima->fingerprint());
  if (!kept) return {};
  return {kept->entries, kept->pcr10};
}

Status QuoteVerifier::Verify(const ChannelContext& channel,
                             const AttestChallenge& challenge,
                             const TcbRequirements& requirements,
                             const Evidence& evidence) const {
  QuoteVerdict v = Check(channel, challenge, requirements, evidence);
  if (!v.need_full_log.empty()) {
    return FailedPrecondition("incremental IMA evidence did not apply (" +
                              v.need_full_log + "); the whole log is needed");
  }
  return v.status;
}

QuoteVerdict QuoteVerifier::Check(const ChannelContext& channel,
                                  const AttestChallenge& challenge,
                                  const TcbRequirements& requirements,
                                  const Evidence& evidence) const {
  QuoteVerdict verdict;
  verdict.status = CheckQuote(channel, challenge, requirements, evidence,
                              verdict.need_full_log);
  return verdict;
}

Status QuoteVerifier::CheckQuote(const ChannelContext& channel,
                                 const AttestChallenge& challenge,
                                 const TcbRequirements& requirements,
                                 const Evidence& evidence,
                                 std::string& need_full_log) const {
  if (!evidence.has_tpm) {
    if (requirements.allow_no_tpm) {
      return nonces_.Consume(evidence.nonce, channel.connection_id);
    }
    return PermissionDenied(
        "host reports no TPM and the requirements need one");
  }
  TVD_ASSIGN_OR_RETURN(
      std::uint64_t issued,
      nonces_.ConsumeIssued(evidence.nonce, channel.connection_id));
  if (evidence.nonce != challenge.nonce) {
    return Unauthenticated("evidence answers another challenge's nonce");
  }

  auto name = TpmObjectName(evidence.ak_public);
  if (!name.ok()) {
    return Unauthenticated("evidence AK: " + name.status().message());
  }
  TVD_ASSIGN_OR_RETURN(EnrolledAk ak, aks_.Find(channel.host, *name));

  TVD_ASSIGN_OR_RETURN(TPMS_ATTEST attest,
                       ParseQuoteAttest(evidence.quote.attest));
  TVD_RETURN_IF_ERROR(VerifyQuoteSignature(
      ak.key.get(), evidence.quote.attest, evidence.quote.signature,
      "quote signature does not verify with the enrolled AK",
      ak.verify_digest.get()));

  Sha256Digest expected =
      QualifyingData(challenge.nonce, channel.channel_binding);
  if (!QuoteQualifies(attest, expected)) {
    return Unauthenticated(
        "quote is not bound to this nonce and TLS session (relayed from "
        "another session?)");
  }

  TVD_RETURN_IF_ERROR(
      aks_.AdvanceClock(*name,
                        {attest.clockInfo.clock, attest.clockInfo.resetCount,
                         attest.clockInfo.restartCount},
                        issued));

  // The quoted selection must be exactly what was asked for, and the
  // reported values the ones the TPM digested.
  TVD_ASSIGN_OR_RETURN(std::vector<PcrValue> values,
                       CheckQuotedPcrs(attest, challenge.pcrs, evidence.pcrs));
  auto value_of = [&values](std::uint32_t index) -> const Sha256Digest* {
    for (const PcrValue& v : values) {
      if (v.index == index) return &v.value;
    }
    return nullptr;
  };

  for (const PcrExpectation& e : requirements.pcrs) {
    const Sha256Digest* v = value_of(e.index);
    if (v == nullptr) {
      return PermissionDenied("PCR " + std::to_string(e.index) +
                              " is required but was not quoted");
    }
    if (std::find(e.allowed.begin(), e.allowed.end(), *v) == e.allowed.end()) {
      return PermissionDenied("PCR " + std::to_string(e.index) + " value " +
                              ToHex(*v) + " is not a known-good value");
    }
  }

  if (requirements.measured_boot) {
    // Before IMA: IMA keeps replay state for a quote that passed every
    // other check.
    if (evidence.event_log.empty()) {
      return PermissionDenied(
          "the requirements need the host's event log (measured boot) but "
          "the evidence carries none");
    }
    TVD_ASSIGN_OR_RETURN(EventLog log, ParseEventLog(evidence.event_log));
    TVD_RETURN_IF_ERROR(CheckEventLogReplay(ReplayEventLog(log), values));
    TVD_RETURN_IF_ERROR(CheckMeasuredBoot(log, *requirements.measured_boot));
  }

  if (requirements.ima) {
    const Sha256Digest* pcr10 = value_of(kImaPcr);
    if (pcr10 == nullptr) {
      return PermissionDenied("PCR 10 is required for IMA but was not quoted");
    }
    // The challenge asked for PCRs 0-9 whenever IMA is required
    // (PcrSelectionFor); without them the replay refuses boot_aggregate.
    BootPcrs boot{};
    bool have_boot = true;
    for (std::uint32_t i = 0; i < kBootAggregatePcrCount && have_boot; ++i) {
      const Sha256Digest* v = value_of(i);
      have_boot = v != nullptr;
      if (have_boot) boot[i] = *v;
    }
    if (evidence.ima_offset != 0 && evidence.ima_offset != challenge.ima_from) {
      return InvalidArgument("evidence sends the IMA log from entry " +
                             std::to_string(evidence.ima_offset) +
                             " but the challenge asked for entry 0 or " +
                             std::to_string(challenge.ima_from));
    }
    if (evidence.ima_log_pending != 0) {
      return InvalidArgument("evidence's IMA log is incomplete (" +
                             std::to_string(evidence.ima_log_pending) +
                             " bytes missing)");
    }
    const ImaAllowlist& allowlist = *requirements.ima;
    std::optional<ImaReplayState> kept;
    if (ima_cache_ != nullptr && evidence.ima_offset != 0) {
      kept = ima_cache_->Find(channel.host, allowlist.fingerprint());
    }
    ImaQuoteFacts quote;
    quote.ak_name = *name;
    quote.reset_count = attest.clockInfo.resetCount;
    quote.restart_count = attest.clockInfo.restartCount;
    quote.boot_pcrs = have_boot ? &boot : nullptr;
    quote.pcr10 = *pcr10;
    ImaVerdict ima = VerifyImaEvidence(
        {evidence.ima_log, evidence.ima_offset, evidence.ima_entries},
        allowlist, quote, kept ? &*kept : nullptr, challenge.ima_pcr10);
    if (ima_cache_ != nullptr) {
      ima_cache_->Count(ima);
      // IMA is the last check: a state kept here is of a good quote.
      if (ima.need_full_log.empty() && ima.status.ok() && ima.verified) {
        ima_cache_->Store(channel.host, allowlist.fingerprint(), *ima.verified);
      }
    }
    if (!ima.need_full_log.empty()) {
      need_full_log = std::move(ima.need_full_log);
      return Status::Ok();
    }
    TVD_RETURN_IF_ERROR(ima.status);
  }
  return Status::Ok();
}

}  // namespace tvd::attest
