// Payloads of the attestation messages (channel/frame.h types kEnrol* and
// kAttest*), encoded with channel/wire.h. Every Decode* refuses truncated,
// oversized or trailing data with a ProtocolError naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tvd/attest/nonce_registry.h"
#include "tvd/attest/tpm.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

// Limits that keep a hostile payload from costing much.
inline constexpr std::size_t kMaxTpmStructure = 4096;
inline constexpr std::size_t kMaxPcrs = 24;
// The IMA log a host may send in one piece of evidence (a first quote or a
// full-replay fallback; incremental evidence carries only new entries).
// An ima-ng line with a SHA-256 template hash and a typical path is about
// 200 bytes, so 100,000 entries (a host up for months) are about 20 MB;
// 32 MiB leaves room for about 160,000 such entries. A larger log is
// refused on both ends with "IMA log of N bytes exceeds the maximum of
// 33554432 bytes". The bound is what the master holds in memory per full
// replay in progress.
inline constexpr std::size_t kMaxImaLog = 32u << 20;
// Evidence whose log does not fit one frame is sent as a kAttestEvidence
// frame carrying the first kImaChunk bytes, then kAttestImaChunk frames of
// at most kImaChunk bytes each: every frame stays under the channel's 1 MiB
// default (channel/frame.h), with room for the quote and PCR values.
inline constexpr std::size_t kImaChunk = 960 * 1024;
// The UEFI event log a host may send with its evidence. Real logs are
// 10-100 KB; 512 KiB leaves room for a large dbx. With an event log, the
// first evidence frame carries that many fewer bytes of IMA log
// (ImaInlineBytes), so it stays under the frame limit. A larger log is
// refused on both ends ("event log of N bytes exceeds the maximum of
// 524288 bytes").
inline constexpr std::size_t kMaxEventLogWire = 512 * 1024;
// The longest reason a challenge may carry.
inline constexpr std::size_t kMaxChallengeReason = 1024;

struct EnrolRequest {
  std::vector<std::uint8_t> ek_public;  // TPM2B_PUBLIC
  std::vector<std::uint8_t> ak_public;  // TPM2B_PUBLIC
};

struct EnrolProof {
  SecureBytes secret;
};

struct AttestChallenge {
  Nonce nonce{};
  std::vector<std::uint32_t> pcrs;  // SHA-256 bank
  bool want_ima_log = false;
  // Incremental IMA (docs/master.md, "Incremental re-attestation"): the
  // master verified the host's first `ima_from` entries at an earlier good
  // quote and they replay to `ima_pcr10`. The host sends its entries from
  // index `ima_from` on when its own log's first `ima_from` entries replay
  // to `ima_pcr10`, and its whole log otherwise. 0: send the whole log
  // (`ima_pcr10` is then all zeros and not on the wire). Only with
  // want_ima_log.
  std::uint64_t ima_from = 0;
  Sha256Digest ima_pcr10{};
  // Non-empty when the master sends this challenge in place of a verdict:
  // the incremental evidence just sent did not apply (why), answer again
  // with the whole log (ima_from is then 0).
  std::string full_log_reason;
  // Send the UEFI event log (measured boot, measured_boot.h). On the wire
  // only when set (a trailing byte), so challenges without it encode as
  // before.
  bool want_event_log = false;
};

struct Evidence {
  bool has_tpm = true;
  Nonce nonce{};                        // the challenge answered
  std::vector<std::uint8_t> ak_public;  // TPM2B_PUBLIC of the signer
  QuoteOutput quote;
  std::vector<PcrValue> pcrs;  // values at quote time
  std::string ima_log;         // ASCII list, when asked for
  // Index of the first entry in `ima_log`: 0 (the whole log) or the
  // challenge's ima_from (only the entries the master has not verified).
  std::uint64_t ima_offset = 0;
  // Entries in the host's log up to the quoted PCR 10: ima_offset plus the
  // lines in ima_log. The master refuses evidence where they differ.
  std::uint64_t ima_entries = 0;
  // Decoding only: bytes of ima_log still to come in kAttestImaChunk frames
  // (AppendImaChunk). Encoders ignore it.
  std::uint64_t ima_log_pending = 0;
  // The binary UEFI event log, when asked for (at most kMaxEventLogWire
  // bytes). On the wire only when non-empty (a trailing field after the
  // IMA log's first part), so evidence without it encodes as before.
  std::vector<std::uint8_t> event_log;
};

// The IMA log bytes the kAttestEvidence frame carries inline when the
// evidence also carries `event_log_size` bytes of event log.
std::size_t ImaInlineBytes(std::size_t event_log_size);

std::vector<std::uint8_t> Encode(const EnrolRequest& m);
std::vector<std::uint8_t> Encode(const CredentialChallenge& m);
std::vector<std::uint8_t> Encode(const EnrolProof& m);
std::vector<std::uint8_t> Encode(const AttestChallenge& m);
// The evidence in one payload, its whole IMA log inline: for logs that fit a
// frame (tests, tools). Hosts send EncodeEvidenceFrames.
std::vector<std::uint8_t> Encode(const Evidence& m);
// The payloads evidence travels in: the kAttestEvidence payload with the
// log's first kImaChunk bytes, then one kAttestImaChunk payload per further
// kImaChunk bytes. InvalidArgument "IMA log of N bytes exceeds the maximum
// of 33554432 bytes" when the log is larger than kMaxImaLog, "event log of
// N bytes exceeds the maximum of 524288 bytes" likewise.
StatusOr<std::vector<std::vector<std::uint8_t>>> EncodeEvidenceFrames(
    const Evidence& m);

StatusOr<EnrolRequest> DecodeEnrolRequest(std::span<const std::uint8_t> in);
StatusOr<CredentialChallenge> DecodeCredentialChallenge(
    std::span<const std::uint8_t> in);
StatusOr<EnrolProof> DecodeEnrolProof(std::span<const std::uint8_t> in);
StatusOr<AttestChallenge> DecodeAttestChallenge(
    std::span<const std::uint8_t> in);
// The kAttestEvidence payload. When the log continues in chunk frames,
// ima_log holds its first part and ima_log_pending the bytes still to come.
// ProtocolError "IMA log of N bytes exceeds the maximum of 33554432 bytes"
// for a log announced larger than kMaxImaLog, and "evidence starts its IMA
// log at entry O but counts only E entries" when ima_offset > ima_entries.
// An event log larger than kMaxEventLogWire is a ProtocolError "field
// 'event_log' has N bytes, more than the maximum 524288", one present but
// empty "evidence's event log is on the wire but empty".
StatusOr<Evidence> DecodeEvidence(std::span<const std::uint8_t> in);
// Appends one kAttestImaChunk payload to `m.ima_log`. ProtocolError "empty
// IMA log chunk" or "IMA log chunk of N bytes but only P bytes were
// announced"; nothing is appended on error.
Status AppendImaChunk(Evidence& m, std::span<const std::uint8_t> chunk);

}  // namespace tvd::attest
