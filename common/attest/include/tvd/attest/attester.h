// Host side of attestation: answers the master's requests with the TPM.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "tvd/attest/messages.h"
#include "tvd/attest/tpm.h"
#include "tvd/status.h"

namespace tvd::attest {

struct AttesterOptions {
  // Where the IMA log is read from when the master asks for it.
  std::string ima_log_path =
      "/sys/kernel/security/ima/ascii_runtime_measurements";
  // Where the UEFI event log is read from when the master asks for it
  // (measured boot).
  std::string event_log_path =
      "/sys/kernel/security/tpm0/binary_bios_measurements";
};

class Attester {
 public:
  // `tpm` may be null: a host without a TPM answers "no TPM".
  Attester(Tpm* tpm, AttesterOptions options)
      : tpm_(tpm), options_(std::move(options)) {}

  StatusOr<EnrolRequest> MakeEnrolRequest();
  StatusOr<EnrolProof> ActivateCredential(const CredentialChallenge& c);

  // Quotes over the challenge's PCRs with qualifying data
  // SHA-256(nonce || channel_binding), reads the PCR values (retrying if a
  // PCR changed between quote and read), adds the IMA log if asked: the
  // prefix that replays to the quoted PCR 10 (IMA may have measured more
  // since), and of it only the entries from index challenge.ima_from on
  // when its first ima_from entries replay to challenge.ima_pcr10 (the
  // master verified those already); the whole prefix otherwise (ima_from
  // 0, a log shorter than ima_from, another boot's log). A log that does
  // not parse or replay to the quoted PCR 10 goes whole, as read: the
  // master names what is wrong. A log larger than kMaxImaLog is an error
  // (FailedPrecondition "IMA log: <path> is larger than 33554432 bytes").
  // The UEFI event log, if asked for, is sent as read (the master replays
  // and judges it); one that cannot be read or is larger than
  // kMaxEventLogWire is an error ("event log: <path> is larger than
  // 524288 bytes").
  StatusOr<Evidence> Answer(const AttestChallenge& challenge,
                            std::span<const std::uint8_t> channel_binding);

 private:
  Tpm* tpm_;
  AttesterOptions options_;
};

}  // namespace tvd::attest
