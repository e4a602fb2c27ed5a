#include "tvd/attest/messages.h"

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
  return w.Take();
}

std::vector<std::uint8_t> Encode(const Evidence& m) {
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
  w.String(m.ima_log);
  return w.Take();
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
  TVD_ASSIGN_OR_RETURN(m.ima_log, r.String("ima_log", kMaxImaLog));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("evidence"));
  return m;
}

}  // namespace tvd::attest
