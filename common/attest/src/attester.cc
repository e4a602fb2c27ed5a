#include "tvd/attest/attester.h"

#include <fcntl.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "tvd/attest/ima_log.h"
#include "tvd/attest/quote_verifier.h"
#include "tvd/file_util.h"

namespace tvd::attest {
namespace {

// The pcrDigest inside a marshalled TPMS_ATTEST quote.
StatusOr<Sha256Digest> QuotedDigest(const std::vector<std::uint8_t>& attest) {
  TPMS_ATTEST a{};
  size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Unmarshal(attest.data(), attest.size(), &off, &a) !=
          TSS2_RC_SUCCESS ||
      a.attested.quote.pcrDigest.size != 32) {
    return Internal("TPM produced a quote that does not unmarshal");
  }
  Sha256Digest d;
  std::copy_n(a.attested.quote.pcrDigest.buffer, 32, d.begin());
  return d;
}

// Cuts `log` to what evidence `e` carries (see Attester::Answer).
void SelectImaEntries(const AttestChallenge& challenge, std::string log,
                      Evidence& e) {
  const PcrValue* pcr10 = nullptr;
  for (const PcrValue& v : e.pcrs) {
    if (v.index == kImaPcr) pcr10 = &v;
  }
  std::uint64_t total = std::count(log.begin(), log.end(), '\n');
  std::size_t from_byte = 0;
  bool from_ok = false;
  auto entries = ParseImaLog(log);
  if (pcr10 != nullptr && entries.ok()) {
    Sha256Digest running{};
    std::size_t end = 0;
    std::uint64_t count = 0;
    for (const ImaEntry& entry : *entries) {
      end = log.find('\n', end) + 1;
      running = ExtendSha256(running, entry.template_sha256);
      ++count;
      if (count == challenge.ima_from && running == challenge.ima_pcr10) {
        from_ok = true;
        from_byte = end;
      }
      if (running == pcr10->value) {
        log.resize(end);
        total = count;
        break;
      }
    }
  }
  // Otherwise the log goes as read, whole; the verifier names what is
  // wrong.
  e.ima_entries = total;
  if (challenge.ima_from != 0 && from_ok) {
    e.ima_offset = challenge.ima_from;
    e.ima_log = log.substr(from_byte);
  } else {
    e.ima_offset = 0;
    e.ima_log = std::move(log);
  }
}

}  // namespace

StatusOr<EnrolRequest> Attester::MakeEnrolRequest() {
  if (tpm_ == nullptr) return FailedPrecondition("host has no TPM");
  EnrolRequest r;
  TVD_ASSIGN_OR_RETURN(r.ek_public, tpm_->EkPublic());
  TVD_ASSIGN_OR_RETURN(r.ak_public, tpm_->AkPublic());
  return r;
}

StatusOr<EnrolProof> Attester::ActivateCredential(
    const CredentialChallenge& c) {
  if (tpm_ == nullptr) return FailedPrecondition("host has no TPM");
  TVD_ASSIGN_OR_RETURN(SecureBytes secret, tpm_->ActivateCredential(c));
  return EnrolProof{std::move(secret)};
}

StatusOr<Evidence> Attester::Answer(
    const AttestChallenge& challenge,
    std::span<const std::uint8_t> channel_binding) {
  Evidence e;
  e.nonce = challenge.nonce;
  if (tpm_ == nullptr) {
    e.has_tpm = false;
    return e;
  }
  TVD_ASSIGN_OR_RETURN(e.ak_public, tpm_->AkPublic());
  Sha256Digest qualifying = QualifyingData(challenge.nonce, channel_binding);
  // Quote, then read the PCRs (retrying while a PCR changed in between),
  // then read the IMA log, which may by then have grown past the quoted
  // PCR 10: only the prefix that replays to the quoted value is sent.
  for (int attempt = 0;; ++attempt) {
    TVD_ASSIGN_OR_RETURN(e.quote, tpm_->Quote(challenge.pcrs, qualifying));
    TVD_ASSIGN_OR_RETURN(e.pcrs, tpm_->ReadPcrs(challenge.pcrs));
    TVD_ASSIGN_OR_RETURN(Sha256Digest quoted, QuotedDigest(e.quote.attest));
    std::vector<PcrValue> sorted = e.pcrs;
    std::sort(
        sorted.begin(), sorted.end(),
        [](const PcrValue& a, const PcrValue& b) { return a.index < b.index; });
    Sha256Hasher h;
    for (const PcrValue& v : sorted) h.Update(v.value);
    if (h.Finish() == quoted) break;
    if (attempt == 3) {
      return Unavailable("PCRs kept changing while quoting; giving up");
    }
  }
  if (challenge.want_ima_log) {
    // Read to EOF: securityfs reports the IMA list's size as 0.
    StatusOr<std::string> log =
        ReadFileCapped(options_.ima_log_path, kMaxImaLog);
    if (!log.ok()) return log.status().WithContext("IMA log");
    SelectImaEntries(challenge, std::move(log).value(), e);
  }
  if (challenge.want_event_log) {
    // Read to EOF: securityfs reports the log's size as 0, like IMA's.
    StatusOr<std::string> log =
        ReadFileCapped(options_.event_log_path, kMaxEventLogWire);
    if (!log.ok()) return log.status().WithContext("event log");
    e.event_log.assign(log->begin(), log->end());
  }
  return e;
}

}  // namespace tvd::attest
