#include "tvd/attest/messages.h"

#include <algorithm>

#include "tvd/channel/wire.h"

namespace tvd::attest {

using channel::WireReader;
using channel::WireWriter;

std::vector<std::uint8_t> Encode(const EnrolRequest& m) {
  WireWriter w;
  w.Bytes(m.ek_public);
  w.Bytes(m.ak_public);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const CredentialChallenge& m) {
  WireWriter w;
  w.Bytes(m.credential_blob);
  w.Bytes(m.encrypted_secret);
  return w.Take();
}

std::vector<std::uint8_t> Encode(const EnrolProof& m) {
  WireWriter w;
  w.Bytes(m.secret.view());
  return w.Take();
}

std::vector<std::uint8_t> Encode(const AttestChallenge& m) {
  WireWriter w;
  w.Bytes(m.nonce);
  w.U8(static_cast<std::uint8_t>(m.pcrs.size()));
  for (std::uint32_t p : m.pcrs) w.U8(static_cast<std::uint8_t>(p));
  w.U8(m.want_ima_log ? 1 : 0);
  w.U64(m.ima_from);
  if (m.ima_from != 0) w.Bytes(m.ima_pcr10);
  w.String(m.full_log_reason);
  if (m.want_event_log) w.U8(1);
  return w.Take();
}

namespace {
// The evidence payload with the log's first `inline_bytes` bytes.
std::vector<std::uint8_t> EncodeEvidenceHead(const Evidence& m,
                                             std::size_t inline_bytes) {
  WireWriter w;
  w.U8(m.has_tpm ? 1 : 0);
  w.Bytes(m.nonce);
  w.Bytes(m.ak_public);
  w.Bytes(m.quote.attest);
  w.Bytes(m.quote.signature);
  w.U8(static_cast<std::uint8_t>(m.pcrs.size()));
  for (const PcrValue& p : m.pcrs) {
    w.U8(static_cast<std::uint8_t>(p.index));
    w.Bytes(p.value);
  }
  w.U64(m.ima_offset);
  w.U64(m.ima_entries);
  w.U64(m.ima_log.size());
  w.String(std::string_view(m.ima_log).substr(0, inline_bytes));
  if (!m.event_log.empty()) w.Bytes(m.event_log);
  return w.Take();
}

Status EventLogTooLarge(std::uint64_t bytes) {
  return InvalidArgument("event log of " + std::to_string(bytes) +
                         " bytes exceeds the maximum of " +
                         std::to_string(kMaxEventLogWire) + " bytes");
}

Status TooLarge(std::uint64_t bytes) {
  return InvalidArgument("IMA log of " + std::to_string(bytes) +
                         " bytes exceeds the maximum of " +
                         std::to_string(kMaxImaLog) + " bytes");
}
}  // namespace

std::size_t ImaInlineBytes(std::size_t event_log_size) {
  return kImaChunk - std::min(event_log_size, kMaxEventLogWire);
}

std::vector<std::uint8_t> Encode(const Evidence& m) {
  return EncodeEvidenceHead(m, m.ima_log.size());
}

StatusOr<std::vector<std::vector<std::uint8_t>>> EncodeEvidenceFrames(
    const Evidence& m) {
  if (m.ima_log.size() > kMaxImaLog) return TooLarge(m.ima_log.size());
  if (m.event_log.size() > kMaxEventLogWire) {
    return EventLogTooLarge(m.event_log.size());
  }
  std::size_t inline_bytes = ImaInlineBytes(m.event_log.size());
  std::vector<std::vector<std::uint8_t>> out;
  out.push_back(EncodeEvidenceHead(m, inline_bytes));
  const auto* text = reinterpret_cast<const std::uint8_t*>(m.ima_log.data());
  for (std::size_t at = inline_bytes; at < m.ima_log.size(); at += kImaChunk) {
    std::size_t n = std::min(kImaChunk, m.ima_log.size() - at);
    out.emplace_back(text + at, text + at + n);
  }
  return out;
}

namespace {
Status ReadNonce(WireReader& r, Nonce& out) {
  TVD_ASSIGN_OR_RETURN(auto v, r.BytesView("nonce", out.size()));
  if (v.size() != out.size()) return ProtocolError("nonce must be 32 bytes");
  std::copy(v.begin(), v.end(), out.begin());
  return Status::Ok();
}
StatusOr<bool> ReadBool(WireReader& r, std::string_view field) {
  TVD_ASSIGN_OR_RETURN(std::uint8_t v, r.U8(field));
  if (v > 1)
    return ProtocolError("field '" + std::string(field) + "' is not 0 or 1");
  return v == 1;
}
StatusOr<std::uint32_t> ReadPcrIndex(WireReader& r) {
  TVD_ASSIGN_OR_RETURN(std::uint8_t v, r.U8("pcr index"));
  if (v >= 24)
    return ProtocolError("PCR index " + std::to_string(v) + " out of range");
  return v;
}
}  // namespace

StatusOr<EnrolRequest> DecodeEnrolRequest(std::span<const std::uint8_t> in) {
  WireReader r(in);
  EnrolRequest m;
  TVD_ASSIGN_OR_RETURN(m.ek_public, r.Bytes("ek_public", kMaxTpmStructure));
  TVD_ASSIGN_OR_RETURN(m.ak_public, r.Bytes("ak_public", kMaxTpmStructure));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("enrol request"));
  return m;
}

StatusOr<CredentialChallenge> DecodeCredentialChallenge(
    std::span<const std::uint8_t> in) {
  WireReader r(in);
  CredentialChallenge m;
  TVD_ASSIGN_OR_RETURN(m.credential_blob,
                       r.Bytes("credential_blob", kMaxTpmStructure));
  TVD_ASSIGN_OR_RETURN(m.encrypted_secret,
                       r.Bytes("encrypted_secret", kMaxTpmStructure));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("enrol challenge"));
  return m;
}

StatusOr<EnrolProof> DecodeEnrolProof(std::span<const std::uint8_t> in) {
  WireReader r(in);
  TVD_ASSIGN_OR_RETURN(auto v, r.BytesView("secret", 64));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("enrol proof"));
  return EnrolProof{SecureBytes(v)};
}

StatusOr<AttestChallenge> DecodeAttestChallenge(
    std::span<const std::uint8_t> in) {
  WireReader r(in);
  AttestChallenge m;
  TVD_RETURN_IF_ERROR(ReadNonce(r, m.nonce));
  TVD_ASSIGN_OR_RETURN(std::uint8_t count, r.U8("pcr count"));
  if (count > kMaxPcrs) return ProtocolError("too many PCRs in challenge");
  for (int i = 0; i < count; ++i) {
    TVD_ASSIGN_OR_RETURN(std::uint32_t p, ReadPcrIndex(r));
    m.pcrs.push_back(p);
  }
  TVD_ASSIGN_OR_RETURN(m.want_ima_log, ReadBool(r, "want_ima_log"));
  TVD_ASSIGN_OR_RETURN(m.ima_from, r.U64("ima_from"));
  if (m.ima_from != 0) {
    if (!m.want_ima_log) {
      return ProtocolError("challenge sets ima_from but asks for no IMA log");
    }
    TVD_ASSIGN_OR_RETURN(auto pcr, r.BytesView("ima_pcr10", 32));
    if (pcr.size() != 32) return ProtocolError("ima_pcr10 must be 32 bytes");
    std::copy(pcr.begin(), pcr.end(), m.ima_pcr10.begin());
  }
  TVD_ASSIGN_OR_RETURN(m.full_log_reason,
                       r.String("full_log_reason", kMaxChallengeReason));
  if (!m.full_log_reason.empty() && (m.ima_from != 0 || !m.want_ima_log)) {
    return ProtocolError(
        "a challenge asking for the whole IMA log must ask for the log from "
        "entry 0");
  }
  // want_event_log: a trailing byte, present only when set.
  if (!r.ExpectEnd("attestation challenge").ok()) {
    TVD_ASSIGN_OR_RETURN(m.want_event_log, ReadBool(r, "want_event_log"));
    if (!m.want_event_log) {
      return ProtocolError("field 'want_event_log' is on the wire but 0");
    }
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("attestation challenge"));
  return m;
}

StatusOr<Evidence> DecodeEvidence(std::span<const std::uint8_t> in) {
  WireReader r(in);
  Evidence m;
  TVD_ASSIGN_OR_RETURN(m.has_tpm, ReadBool(r, "has_tpm"));
  TVD_RETURN_IF_ERROR(ReadNonce(r, m.nonce));
  TVD_ASSIGN_OR_RETURN(m.ak_public, r.Bytes("ak_public", kMaxTpmStructure));
  TVD_ASSIGN_OR_RETURN(m.quote.attest, r.Bytes("quote", kMaxTpmStructure));
  TVD_ASSIGN_OR_RETURN(m.quote.signature,
                       r.Bytes("signature", kMaxTpmStructure));
  TVD_ASSIGN_OR_RETURN(std::uint8_t count, r.U8("pcr count"));
  if (count > kMaxPcrs) return ProtocolError("too many PCR values in evidence");
  for (int i = 0; i < count; ++i) {
    PcrValue v;
    TVD_ASSIGN_OR_RETURN(v.index, ReadPcrIndex(r));
    TVD_ASSIGN_OR_RETURN(auto bytes, r.BytesView("pcr value", 32));
    if (bytes.size() != 32) return ProtocolError("PCR value must be 32 bytes");
    std::copy(bytes.begin(), bytes.end(), v.value.begin());
    m.pcrs.push_back(v);
  }
  TVD_ASSIGN_OR_RETURN(m.ima_offset, r.U64("ima_offset"));
  TVD_ASSIGN_OR_RETURN(m.ima_entries, r.U64("ima_entries"));
  if (m.ima_offset > m.ima_entries) {
    return ProtocolError("evidence starts its IMA log at entry " +
                         std::to_string(m.ima_offset) + " but counts only " +
                         std::to_string(m.ima_entries) + " entries");
  }
  TVD_ASSIGN_OR_RETURN(std::uint64_t size, r.U64("ima_log_size"));
  if (size > kMaxImaLog) {
    return ProtocolError(TooLarge(size).message());
  }
  TVD_ASSIGN_OR_RETURN(m.ima_log, r.String("ima_log", kImaChunk));
  if (m.ima_log.size() > size) {
    return ProtocolError(
        "evidence carries " + std::to_string(m.ima_log.size()) +
        " bytes of IMA log but announces " + std::to_string(size));
  }
  // The event log: a trailing field, present only when non-empty. Fewer
  // bytes than its length prefix are plain trailing garbage.
  if (WireReader probe = r; probe.U32("event_log").ok()) {
    TVD_ASSIGN_OR_RETURN(m.event_log, r.Bytes("event_log", kMaxEventLogWire));
    if (m.event_log.empty()) {
      return ProtocolError("evidence's event log is on the wire but empty");
    }
  }
  // Canonical: a log continues in chunk frames only after a full first
  // chunk.
  std::size_t first_part = ImaInlineBytes(m.event_log.size());
  if (m.ima_log.size() < size && m.ima_log.size() != first_part) {
    return ProtocolError("evidence's IMA log continues in chunk frames after " +
                         std::to_string(m.ima_log.size()) +
                         " bytes; the first part must be " +
                         std::to_string(first_part) + " bytes");
  }
  m.ima_log_pending = size - m.ima_log.size();
  TVD_RETURN_IF_ERROR(r.ExpectEnd("evidence"));
  return m;
}

Status AppendImaChunk(Evidence& m, std::span<const std::uint8_t> chunk) {
  if (chunk.empty()) return ProtocolError("empty IMA log chunk");
  if (chunk.size() > m.ima_log_pending) {
    return ProtocolError("IMA log chunk of " + std::to_string(chunk.size()) +
                         " bytes but only " +
                         std::to_string(m.ima_log_pending) +
                         " bytes were announced");
  }
  m.ima_log.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  m.ima_log_pending -= chunk.size();
  return Status::Ok();
}

}  // namespace tvd::attest
