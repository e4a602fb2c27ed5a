#include "tvd/attest/tpm_wire.h"

#include <cstdio>
#include <string>

namespace tvd::attest::tpmwire {
namespace {

constexpr std::uint16_t kStNoSessions = 0x8001;
constexpr std::uint16_t kStSessions = 0x8002;
constexpr std::uint32_t kRsPw = 0x40000009;
constexpr std::uint16_t kAlgSha256 = 0x000b;
constexpr std::uint16_t kAlgNull = 0x0010;
constexpr std::uint16_t kAlgRsassa = 0x0014;
constexpr std::uint16_t kAlgRsapss = 0x0016;
constexpr std::uint16_t kAlgEcdsa = 0x0018;
constexpr std::size_t kHeader = 10;

constexpr std::uint32_t kCcCreatePrimary = 0x131;
constexpr std::uint32_t kCcQuote = 0x158;
constexpr std::uint32_t kCcFlushContext = 0x165;
constexpr std::uint32_t kCcPcrRead = 0x17e;
constexpr std::uint32_t kCcPcrExtend = 0x182;

class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(v); }
  void U16(std::uint16_t v) {
    U8(static_cast<std::uint8_t>(v >> 8));
    U8(static_cast<std::uint8_t>(v));
  }
  void U32(std::uint32_t v) {
    U16(static_cast<std::uint16_t>(v >> 16));
    U16(static_cast<std::uint16_t>(v));
  }
  void Bytes(std::span<const std::uint8_t> b) {
    out_.insert(out_.end(), b.begin(), b.end());
  }
  // The empty password session for one handle.
  void PasswordAuth() {
    U32(9);      // authorizationSize
    U32(kRsPw);  // sessionHandle
    U16(0);      // nonce
    U8(0);       // sessionAttributes
    U16(0);      // hmac (the empty password)
  }
  // Writes the header last, when the size is known.
  std::vector<std::uint8_t> Finish(std::uint16_t tag, std::uint32_t cc) {
    std::vector<std::uint8_t> body = std::move(out_);
    out_.clear();
    U16(tag);
    U32(static_cast<std::uint32_t>(kHeader + body.size()));
    U32(cc);
    Bytes(body);
    return std::move(out_);
  }

 private:
  std::vector<std::uint8_t> out_;
};

std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%03x", v);
  return buf;
}

// Reads a response's fields, each read failing with the command's name and
// the field that overran.
class Reader {
 public:
  Reader(const char* command, std::span<const std::uint8_t> in)
      : command_(command), in_(in) {}

  Status Fail(const std::string& what) const {
    return InvalidArgument(std::string("TPM2_") + command_ +
                           " response: " + what);
  }
  bool Has(std::size_t n) const { return in_.size() - pos_ >= n; }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return in_.size() - pos_; }

  StatusOr<std::uint16_t> U16(const char* field) {
    if (!Has(2)) return Fail(std::string("truncated at ") + field);
    std::uint16_t v =
        static_cast<std::uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  StatusOr<std::uint32_t> U32(const char* field) {
    if (!Has(4)) return Fail(std::string("truncated at ") + field);
    std::uint32_t v = static_cast<std::uint32_t>(in_[pos_]) << 24 |
                      static_cast<std::uint32_t>(in_[pos_ + 1]) << 16 |
                      static_cast<std::uint32_t>(in_[pos_ + 2]) << 8 |
                      in_[pos_ + 3];
    pos_ += 4;
    return v;
  }
  StatusOr<std::span<const std::uint8_t>> Bytes(std::size_t n,
                                                const char* field) {
    if (!Has(n)) return Fail(std::string("truncated at ") + field);
    auto v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  // A TPM2B: u16 size, then that many bytes. Returns the contents.
  StatusOr<std::span<const std::uint8_t>> Sized(const char* field) {
    TVD_ASSIGN_OR_RETURN(std::uint16_t n, U16(field));
    return Bytes(n, field);
  }
  // The header: size equal to the input's length, the expected tag, and a
  // success code; also the tag TPM_ST_NO_SESSIONS an error response has.
  Status Header(std::uint16_t want_tag) {
    if (in_.size() < kHeader) {
      return Fail("truncated header (" + std::to_string(in_.size()) +
                  " bytes)");
    }
    if (in_.size() > kMaxTpmResponse) {
      return Fail(std::to_string(in_.size()) + " bytes exceed the maximum of " +
                  std::to_string(kMaxTpmResponse));
    }
    TVD_ASSIGN_OR_RETURN(std::uint16_t tag, U16("tag"));
    TVD_ASSIGN_OR_RETURN(std::uint32_t size, U32("responseSize"));
    TVD_ASSIGN_OR_RETURN(std::uint32_t rc, U32("responseCode"));
    if (size != in_.size()) {
      return Fail("header says " + std::to_string(size) + " bytes but " +
                  std::to_string(in_.size()) + " arrived");
    }
    if (rc != 0) {
      return FailedPrecondition(std::string("TPM2_") + command_ +
                                " failed: TPM response code " + Hex32(rc));
    }
    if (tag != want_tag) {
      return Fail("tag " + Hex32(tag) + " where " + Hex32(want_tag) +
                  " was expected");
    }
    return Status::Ok();
  }
  // The parameter area of a response with sessions: u32 parameterSize,
  // then the parameters (read by `parameters`, which must use exactly
  // that many bytes), then one password session's response (empty nonce,
  // attributes, empty hmac), then nothing.
  template <typename F>
  Status SessionParameters(F&& parameters) {
    TVD_ASSIGN_OR_RETURN(std::uint32_t size, U32("parameterSize"));
    if (size > left()) {
      return Fail("parameterSize " + std::to_string(size) + " overruns the " +
                  std::to_string(left()) + " bytes left");
    }
    std::size_t start = pos_;
    TVD_RETURN_IF_ERROR(parameters());
    if (pos_ != start + size) {
      return Fail("parameters use " + std::to_string(pos_ - start) +
                  " bytes but parameterSize says " + std::to_string(size));
    }
    TVD_ASSIGN_OR_RETURN(auto nonce, Sized("session nonce"));
    TVD_ASSIGN_OR_RETURN(auto attrs, Bytes(1, "session attributes"));
    TVD_ASSIGN_OR_RETURN(auto hmac, Sized("session hmac"));
    (void)nonce;
    (void)attrs;
    (void)hmac;
    return End();
  }
  Status End() const {
    if (pos_ != in_.size()) {
      return Fail(std::to_string(in_.size() - pos_) +
                  " bytes left over after the last field");
    }
    return Status::Ok();
  }

 private:
  const char* command_;
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

StatusOr<std::array<std::uint8_t, 3>> SelectBits(
    std::span<const std::uint32_t> pcrs) {
  if (pcrs.empty()) return InvalidArgument("no PCR selected");
  std::array<std::uint8_t, 3> bits{};
  for (std::uint32_t i : pcrs) {
    if (i >= kPcrCount) {
      return InvalidArgument("PCR " + std::to_string(i) + " out of range 0-23");
    }
    bits[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  }
  return bits;
}

void SelectionSha256(Writer& w, const std::array<std::uint8_t, 3>& bits) {
  w.U32(1);  // count
  w.U16(kAlgSha256);
  w.U8(3);  // sizeofSelect
  w.Bytes(bits);
}

}  // namespace

std::vector<std::uint8_t> CreatePrimaryCommand(
    std::uint32_t hierarchy, std::span<const std::uint8_t> in_public) {
  Writer w;
  w.U32(hierarchy);
  w.PasswordAuth();
  w.U16(4);  // inSensitive: TPMS_SENSITIVE_CREATE of an empty
  w.U16(0);  // userAuth
  w.U16(0);  // and empty data
  w.Bytes(in_public);
  w.U16(0);  // outsideInfo
  w.U32(0);  // creationPCR: no selection
  return w.Finish(kStSessions, kCcCreatePrimary);
}

StatusOr<CreatedPrimary> ParseCreatePrimaryResponse(
    std::span<const std::uint8_t> response) {
  Reader r("CreatePrimary", response);
  TVD_RETURN_IF_ERROR(r.Header(kStSessions));
  CreatedPrimary out;
  TVD_ASSIGN_OR_RETURN(out.handle, r.U32("objectHandle"));
  TVD_RETURN_IF_ERROR(r.SessionParameters([&]() -> Status {
    TVD_ASSIGN_OR_RETURN(auto pub, r.Sized("outPublic"));
    if (pub.empty()) return r.Fail("outPublic is empty");
    out.public_area.reserve(2 + pub.size());
    out.public_area.push_back(static_cast<std::uint8_t>(pub.size() >> 8));
    out.public_area.push_back(static_cast<std::uint8_t>(pub.size()));
    out.public_area.insert(out.public_area.end(), pub.begin(), pub.end());
    TVD_ASSIGN_OR_RETURN(auto creation_data, r.Sized("creationData"));
    TVD_ASSIGN_OR_RETURN(auto creation_hash, r.Sized("creationHash"));
    TVD_ASSIGN_OR_RETURN(auto ticket_tag, r.U16("creationTicket.tag"));
    TVD_ASSIGN_OR_RETURN(auto ticket_hierarchy,
                         r.U32("creationTicket.hierarchy"));
    TVD_ASSIGN_OR_RETURN(auto ticket_digest, r.Sized("creationTicket.digest"));
    TVD_ASSIGN_OR_RETURN(auto name, r.Sized("name"));
    (void)creation_data;
    (void)creation_hash;
    (void)ticket_tag;
    (void)ticket_hierarchy;
    (void)ticket_digest;
    (void)name;
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::vector<std::uint8_t>> PcrExtendCommand(std::uint32_t pcr,
                                                     const PcrDigest& digest) {
  if (pcr >= kPcrCount) {
    return InvalidArgument("PCR " + std::to_string(pcr) + " out of range 0-23");
  }
  Writer w;
  w.U32(pcr);  // a PCR's handle is its index
  w.PasswordAuth();
  w.U32(1);  // TPML_DIGEST_VALUES.count
  w.U16(kAlgSha256);
  w.Bytes(digest);
  return w.Finish(kStSessions, kCcPcrExtend);
}

Status ParsePcrExtendResponse(std::span<const std::uint8_t> response) {
  Reader r("PCR_Extend", response);
  TVD_RETURN_IF_ERROR(r.Header(kStSessions));
  return r.SessionParameters([] { return Status::Ok(); });
}

StatusOr<std::vector<std::uint8_t>> PcrReadCommand(
    std::span<const std::uint32_t> pcrs) {
  TVD_ASSIGN_OR_RETURN(auto bits, SelectBits(pcrs));
  Writer w;
  SelectionSha256(w, bits);
  return w.Finish(kStNoSessions, kCcPcrRead);
}

StatusOr<PcrReadResult> ParsePcrReadResponse(
    std::span<const std::uint8_t> response) {
  Reader r("PCR_Read", response);
  TVD_RETURN_IF_ERROR(r.Header(kStNoSessions));
  PcrReadResult out;
  TVD_ASSIGN_OR_RETURN(out.update_counter, r.U32("pcrUpdateCounter"));
  TVD_ASSIGN_OR_RETURN(std::uint32_t banks, r.U32("pcrSelectionOut.count"));
  if (banks > 1) {
    return r.Fail("selection of " + std::to_string(banks) +
                  " banks where only SHA-256 was asked for");
  }
  if (banks == 1) {
    TVD_ASSIGN_OR_RETURN(std::uint16_t alg, r.U16("pcrSelectionOut.hash"));
    if (alg != kAlgSha256) {
      return r.Fail("selection of bank " + Hex32(alg) + ", not SHA-256");
    }
    TVD_ASSIGN_OR_RETURN(auto size, r.Bytes(1, "pcrSelectionOut.sizeofSelect"));
    if (size[0] > 3) {
      return r.Fail("sizeofSelect " + std::to_string(size[0]) +
                    " exceeds the 3 bytes of 24 PCRs");
    }
    TVD_ASSIGN_OR_RETURN(auto bits,
                         r.Bytes(size[0], "pcrSelectionOut.pcrSelect"));
    for (std::uint32_t i = 0; i < 8u * bits.size(); ++i) {
      if (bits[i / 8] & (1u << (i % 8))) out.pcrs.push_back(i);
    }
  }
  TVD_ASSIGN_OR_RETURN(std::uint32_t count, r.U32("pcrValues.count"));
  if (count != out.pcrs.size()) {
    return r.Fail(std::to_string(count) + " digests for " +
                  std::to_string(out.pcrs.size()) + " selected PCRs");
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    TVD_ASSIGN_OR_RETURN(auto d, r.Sized("pcrValues.digests"));
    if (d.size() != 32) {
      return r.Fail("digest of PCR " + std::to_string(out.pcrs[i]) + " is " +
                    std::to_string(d.size()) + " bytes, not 32");
    }
    PcrDigest v{};
    std::copy(d.begin(), d.end(), v.begin());
    out.values.push_back(v);
  }
  TVD_RETURN_IF_ERROR(r.End());
  return out;
}

StatusOr<std::vector<std::uint8_t>> QuoteCommand(
    std::uint32_t key, std::span<const std::uint8_t> qualifying_data,
    std::span<const std::uint32_t> pcrs) {
  if (qualifying_data.size() > kMaxQualifyingData) {
    return InvalidArgument(
        "qualifying data of " + std::to_string(qualifying_data.size()) +
        " bytes exceeds the maximum of " + std::to_string(kMaxQualifyingData));
  }
  TVD_ASSIGN_OR_RETURN(auto bits, SelectBits(pcrs));
  Writer w;
  w.U32(key);
  w.PasswordAuth();
  w.U16(static_cast<std::uint16_t>(qualifying_data.size()));
  w.Bytes(qualifying_data);
  w.U16(kAlgNull);  // inScheme: the key's own
  SelectionSha256(w, bits);
  return w.Finish(kStSessions, kCcQuote);
}

StatusOr<QuoteResult> ParseQuoteResponse(
    std::span<const std::uint8_t> response) {
  Reader r("Quote", response);
  TVD_RETURN_IF_ERROR(r.Header(kStSessions));
  QuoteResult out;
  TVD_RETURN_IF_ERROR(r.SessionParameters([&]() -> Status {
    TVD_ASSIGN_OR_RETURN(auto attest, r.Sized("quoted"));
    if (attest.empty()) return r.Fail("quoted is empty");
    out.attest.assign(attest.begin(), attest.end());
    std::size_t start = r.pos();
    TVD_ASSIGN_OR_RETURN(std::uint16_t alg, r.U16("signature.sigAlg"));
    TVD_ASSIGN_OR_RETURN(std::uint16_t hash, r.U16("signature.hash"));
    (void)hash;
    if (alg == kAlgEcdsa) {
      TVD_ASSIGN_OR_RETURN(auto sr, r.Sized("signature.signatureR"));
      TVD_ASSIGN_OR_RETURN(auto ss, r.Sized("signature.signatureS"));
      (void)sr;
      (void)ss;
    } else if (alg == kAlgRsassa || alg == kAlgRsapss) {
      TVD_ASSIGN_OR_RETURN(auto sig, r.Sized("signature.sig"));
      (void)sig;
    } else {
      return r.Fail("signature algorithm " + Hex32(alg) + " is not supported");
    }
    out.signature.assign(response.begin() + static_cast<long>(start),
                         response.begin() + static_cast<long>(r.pos()));
    return Status::Ok();
  }));
  return out;
}

std::vector<std::uint8_t> FlushContextCommand(std::uint32_t handle) {
  Writer w;
  w.U32(handle);
  return w.Finish(kStNoSessions, kCcFlushContext);
}

Status ParseFlushContextResponse(std::span<const std::uint8_t> response) {
  Reader r("FlushContext", response);
  TVD_RETURN_IF_ERROR(r.Header(kStNoSessions));
  return r.End();
}

bool IsRetryResponse(std::span<const std::uint8_t> response) {
  if (response.size() < kHeader) return false;
  std::uint32_t rc = static_cast<std::uint32_t>(response[6]) << 24 |
                     static_cast<std::uint32_t>(response[7]) << 16 |
                     static_cast<std::uint32_t>(response[8]) << 8 | response[9];
  return rc == 0x922 || rc == 0x908 || rc == 0x90a;
}

StatusOr<std::size_t> ResponseSize(std::span<const std::uint8_t> header) {
  if (header.size() < kHeader) {
    return InvalidArgument("TPM response header truncated (" +
                           std::to_string(header.size()) + " bytes)");
  }
  std::size_t size = static_cast<std::size_t>(header[2]) << 24 |
                     static_cast<std::size_t>(header[3]) << 16 |
                     static_cast<std::size_t>(header[4]) << 8 | header[5];
  if (size < kHeader || size > kMaxTpmResponse) {
    return InvalidArgument("TPM response announces " + std::to_string(size) +
                           " bytes, outside " + std::to_string(kHeader) + "-" +
                           std::to_string(kMaxTpmResponse));
  }
  return size;
}

}  // namespace tvd::attest::tpmwire
