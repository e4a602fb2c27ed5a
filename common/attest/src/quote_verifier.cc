#include "tvd/attest/quote_verifier.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>

namespace tvd::attest {
namespace {

std::string PcrListText(const std::vector<std::uint32_t>& pcrs) {
  std::string out = "{";
  for (std::size_t i = 0; i < pcrs.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(pcrs[i]);
  }
  return out + "}";
}

// The DER signature OpenSSL verifies, from a TPMT_SIGNATURE, checking its
// scheme matches the key type.
StatusOr<std::vector<std::uint8_t>> SignatureBytes(const TPMT_SIGNATURE& sig,
                                                   EVP_PKEY* key) {
  bool rsa_key = EVP_PKEY_is_a(key, "RSA");
  if (sig.sigAlg == TPM2_ALG_RSASSA && rsa_key) {
    if (sig.signature.rsassa.hash != TPM2_ALG_SHA256) {
      return Unauthenticated("quote signature hash is not SHA-256");
    }
    const auto& s = sig.signature.rsassa.sig;
    return std::vector<std::uint8_t>(s.buffer, s.buffer + s.size);
  }
  if (sig.sigAlg == TPM2_ALG_ECDSA && !rsa_key) {
    if (sig.signature.ecdsa.hash != TPM2_ALG_SHA256) {
      return Unauthenticated("quote signature hash is not SHA-256");
    }
    const auto& r = sig.signature.ecdsa.signatureR;
    const auto& s = sig.signature.ecdsa.signatureS;
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* br = BN_bin2bn(r.buffer, r.size, nullptr);
    BIGNUM* bs = BN_bin2bn(s.buffer, s.size, nullptr);
    if (es == nullptr || br == nullptr || bs == nullptr ||
        ECDSA_SIG_set0(es, br, bs) != 1) {
      BN_free(br);
      BN_free(bs);
      ECDSA_SIG_free(es);
      return Internal("out of memory");
    }
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (len <= 0) return Internal("cannot encode ECDSA signature");
    std::vector<std::uint8_t> out(der, der + len);
    OPENSSL_free(der);
    return out;
  }
  return Unauthenticated("quote signature scheme does not match the AK");
}

// `signature` over SHA-256(`message`), checked on a copy of the AK's
// prepared context (EnrolledAk::verify_digest).
bool VerifySignature(const EnrolledAk& ak,
                     std::span<const std::uint8_t> message,
                     std::span<const std::uint8_t> signature) {
  if (ak.verify_digest == nullptr) return false;
  Sha256Digest digest = Sha256(message);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_dup(ak.verify_digest.get());
  bool ok = ctx != nullptr &&
            EVP_PKEY_verify(ctx, signature.data(), signature.size(),
                            digest.data(), digest.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

}  // namespace

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

  TPMS_ATTEST attest{};
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(evidence.quote.attest.data(),
                                             evidence.quote.attest.size(), &off,
                                             &attest);
  if (rc != TSS2_RC_SUCCESS || off != evidence.quote.attest.size()) {
    return Unauthenticated("quote does not unmarshal as TPMS_ATTEST");
  }
  if (attest.magic != TPM2_GENERATED_VALUE) {
    return Unauthenticated("quote magic is not TPM_GENERATED_VALUE");
  }
  if (attest.type != TPM2_ST_ATTEST_QUOTE) {
    return Unauthenticated("attestation is not a quote");
  }

  TPMT_SIGNATURE sig{};
  off = 0;
  rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(evidence.quote.signature.data(),
                                        evidence.quote.signature.size(), &off,
                                        &sig);
  if (rc != TSS2_RC_SUCCESS || off != evidence.quote.signature.size()) {
    return Unauthenticated("quote signature does not unmarshal");
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> der,
                       SignatureBytes(sig, ak.key.get()));
  if (!VerifySignature(ak, evidence.quote.attest, der)) {
    return Unauthenticated(
        "quote signature does not verify with the enrolled AK");
  }

  Sha256Digest expected =
      QualifyingData(challenge.nonce, channel.channel_binding);
  if (attest.extraData.size != expected.size() ||
      std::memcmp(attest.extraData.buffer, expected.data(), expected.size()) !=
          0) {
    return Unauthenticated(
        "quote is not bound to this nonce and TLS session (relayed from "
        "another session?)");
  }

  TVD_RETURN_IF_ERROR(
      aks_.AdvanceClock(*name,
                        {attest.clockInfo.clock, attest.clockInfo.resetCount,
                         attest.clockInfo.restartCount},
                        issued));

  // The quoted selection must be exactly what was asked for.
  std::vector<std::uint32_t> quoted;
  const TPML_PCR_SELECTION& sel = attest.attested.quote.pcrSelect;
  bool selection_ok = sel.count == 1 &&
                      sel.pcrSelections[0].hash == TPM2_ALG_SHA256 &&
                      sel.pcrSelections[0].sizeofSelect <= 3;
  if (selection_ok) {
    const TPMS_PCR_SELECTION& s = sel.pcrSelections[0];
    for (std::uint32_t i = 0; i < 8u * s.sizeofSelect; ++i) {
      if (s.pcrSelect[i / 8] & (1u << (i % 8))) quoted.push_back(i);
    }
  }
  std::vector<std::uint32_t> wanted = challenge.pcrs;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (!selection_ok || quoted != wanted) {
    return Unauthenticated("quote covers PCRs " + PcrListText(quoted) +
                           " (SHA-256 bank) but " + PcrListText(wanted) +
                           " were requested");
  }

  // The reported values must be the ones the TPM digested, in index order.
  std::vector<PcrValue> values = evidence.pcrs;
  std::sort(
      values.begin(), values.end(),
      [](const PcrValue& a, const PcrValue& b) { return a.index < b.index; });
  bool values_ok = values.size() == wanted.size();
  Sha256Hasher h;
  for (std::size_t i = 0; values_ok && i < values.size(); ++i) {
    values_ok = values[i].index == wanted[i];
    h.Update(values[i].value);
  }
  Sha256Digest digest = h.Finish();
  const TPM2B_DIGEST& quoted_digest = attest.attested.quote.pcrDigest;
  if (!values_ok || quoted_digest.size != digest.size() ||
      std::memcmp(quoted_digest.buffer, digest.data(), digest.size()) != 0) {
    return Unauthenticated(
        "reported PCR values do not match the quoted PCR digest");
  }
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
