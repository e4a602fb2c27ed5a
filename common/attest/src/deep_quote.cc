#include "tvd/attest/deep_quote.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "tvd/attest/quote_check.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/hex.h"

namespace tvd::attest {
namespace {

using Json = nlohmann::json;

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using BioPtr = std::unique_ptr<BIO, Free>;
using X509Ptr = std::unique_ptr<X509, Free>;

constexpr std::string_view kStatementFormat = "tvd-vtpm-statement/1";
constexpr std::string_view kEvidenceFormat = "tvd-deep-quote/1";
// Year 10000: keeps every time printable and far from overflow.
constexpr UnixSeconds kMaxTime = 253402300800;
// {"quote": {"pcrs": [{...}]}} is four levels deep.
constexpr int kMaxDepth = 4;

X509Ptr ParsePem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Status CheckName(const std::string& value, const char* field) {
  if (!pki::IsValidName(value)) {
    return InvalidArgument(std::string("statement field ") + field + " '" +
                           value.substr(0, 64) +
                           "' is not a valid name (1-64 of [A-Za-z0-9._-])");
  }
  return Status::Ok();
}

Status CheckTime(UnixSeconds t, const char* field) {
  if (t < 0 || t >= kMaxTime) {
    return InvalidArgument(std::string("statement field ") + field + " " +
                           std::to_string(t) + " is not a time 0-" +
                           std::to_string(kMaxTime - 1));
  }
  return Status::Ok();
}

std::string Seconds(std::int64_t s) { return std::to_string(s) + " s"; }

// The deepest nesting of `text`'s arrays and objects, counted outside
// strings, stopping once past `limit`; bounds what the JSON parser and the
// destructor of its tree recurse through.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// Reads the fields of one JSON object, each at most once, and refuses the
// object if any field was left unread (unknown fields).
class ObjectReader {
 public:
  ObjectReader(const Json& j, std::string where)
      : j_(j), where_(std::move(where)) {}

  Status Fail(const std::string& field, const std::string& why) const {
    return InvalidArgument("deep-quote evidence: " + where_ + field + ": " +
                           why);
  }
  StatusOr<const Json*> Field(const std::string& name) {
    auto it = j_.find(name);
    if (it == j_.end()) return Fail(name, "missing");
    read_.push_back(name);
    return &*it;
  }
  StatusOr<std::string> String(const std::string& name, std::size_t max) {
    TVD_ASSIGN_OR_RETURN(const Json* v, Field(name));
    if (!v->is_string()) return Fail(name, "not a string");
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max) {
      return Fail(name, std::to_string(s.size()) +
                            " characters exceed the maximum of " +
                            std::to_string(max));
    }
    return s;
  }
  StatusOr<std::string> Name(const std::string& name) {
    TVD_ASSIGN_OR_RETURN(std::string s, String(name, 64));
    if (!pki::IsValidName(s)) {
      return Fail(name, "not a valid name (1-64 of [A-Za-z0-9._-])");
    }
    return s;
  }
  // Lower-case hex of 1 to `max` bytes, or exactly `exact` when not 0.
  StatusOr<std::vector<std::uint8_t>> Hex(const std::string& name,
                                          std::size_t max,
                                          std::size_t exact = 0) {
    TVD_ASSIGN_OR_RETURN(std::string s, String(name, 2 * max));
    auto bytes = LowerHexToBytes(s);
    if (!bytes.ok()) return Fail(name, bytes.status().message());
    if (bytes->empty()) return Fail(name, "empty");
    if (exact != 0 && bytes->size() != exact) {
      return Fail(name, std::to_string(bytes->size()) + " bytes, not " +
                            std::to_string(exact));
    }
    return bytes;
  }
  StatusOr<Sha256Digest> Digest(const std::string& name) {
    TVD_ASSIGN_OR_RETURN(auto bytes, Hex(name, 32, 32));
    Sha256Digest d{};
    std::copy(bytes.begin(), bytes.end(), d.begin());
    return d;
  }
  StatusOr<std::int64_t> Integer(const std::string& name, std::int64_t max) {
    TVD_ASSIGN_OR_RETURN(const Json* v, Field(name));
    if (!v->is_number_integer()) return Fail(name, "not an integer");
    if (v->is_number_unsigned()) {
      auto u = v->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(max)) {
        return Fail(name,
                    std::to_string(u) + " exceeds " + std::to_string(max));
      }
      return static_cast<std::int64_t>(u);
    }
    auto i = v->get<std::int64_t>();
    if (i < 0 || i > max) {
      return Fail(name, std::to_string(i) + " is not 0-" + std::to_string(max));
    }
    return i;
  }
  StatusOr<const Json*> Object(const std::string& name) {
    TVD_ASSIGN_OR_RETURN(const Json* v, Field(name));
    if (!v->is_object()) return Fail(name, "not an object");
    return v;
  }
  // Refuses the first field that was not read: it is not in the format.
  Status Done() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (std::find(read_.begin(), read_.end(), it.key()) == read_.end()) {
        return Fail(it.key().substr(0, 64), "unknown field");
      }
    }
    return Status::Ok();
  }

 private:
  const Json& j_;
  std::string where_;
  std::vector<std::string> read_;
};

Json StatementJson(const VtpmStatement& s) {
  return Json{{"tvd", s.tvd},
              {"vm", s.vm},
              {"host", s.host},
              {"vtpm_ek_sha256", ToHex(s.vtpm_ek_digest)},
              {"vtpm_ak", ToHex(s.vtpm_ak)},
              {"binding_created", s.binding_created},
              {"host_attested_at", s.host_attested_at},
              {"host_pcr_digest", ToHex(s.host_pcr_digest)},
              {"host_policy_digest", ToHex(s.host_policy_digest)},
              {"host_state", std::string(HostMembershipName(s.host_state))},
              {"nonce", ToHex(s.nonce)},
              {"issued_at", s.issued_at}};
}

StatusOr<VtpmStatement> ParseStatement(const Json& j) {
  ObjectReader r(j, "statement.");
  VtpmStatement s;
  TVD_ASSIGN_OR_RETURN(s.tvd, r.Name("tvd"));
  TVD_ASSIGN_OR_RETURN(s.vm, r.Name("vm"));
  TVD_ASSIGN_OR_RETURN(s.host, r.Name("host"));
  TVD_ASSIGN_OR_RETURN(s.vtpm_ek_digest, r.Digest("vtpm_ek_sha256"));
  TVD_ASSIGN_OR_RETURN(s.vtpm_ak, r.Hex("vtpm_ak", kMaxGuestStructure));
  TVD_ASSIGN_OR_RETURN(s.binding_created,
                       r.Integer("binding_created", kMaxTime - 1));
  TVD_ASSIGN_OR_RETURN(s.host_attested_at,
                       r.Integer("host_attested_at", kMaxTime - 1));
  TVD_ASSIGN_OR_RETURN(s.host_pcr_digest, r.Digest("host_pcr_digest"));
  TVD_ASSIGN_OR_RETURN(s.host_policy_digest, r.Digest("host_policy_digest"));
  TVD_ASSIGN_OR_RETURN(std::string state, r.String("host_state", 16));
  if (state == "member") {
    s.host_state = HostMembership::kMember;
  } else if (state == "evicted") {
    s.host_state = HostMembership::kEvicted;
  } else {
    return r.Fail("host_state",
                  "'" + state + "' is neither member nor evicted");
  }
  TVD_ASSIGN_OR_RETURN(s.nonce, r.Hex("nonce", kMaxGuestNonce));
  if (s.nonce.size() < kMinGuestNonce) {
    return r.Fail("nonce", CheckGuestNonce(s.nonce).message());
  }
  TVD_ASSIGN_OR_RETURN(s.issued_at, r.Integer("issued_at", kMaxTime - 1));
  TVD_RETURN_IF_ERROR(r.Done());
  return s;
}

StatusOr<GuestQuoteAnswer> ParseQuote(const Json& j) {
  ObjectReader r(j, "quote.");
  GuestQuoteAnswer q;
  TVD_ASSIGN_OR_RETURN(q.ak_public, r.Hex("ak_public", kMaxGuestStructure));
  TVD_ASSIGN_OR_RETURN(q.attest, r.Hex("attest", kMaxGuestStructure));
  TVD_ASSIGN_OR_RETURN(q.signature, r.Hex("signature", kMaxGuestStructure));
  TVD_ASSIGN_OR_RETURN(const Json* pcrs, r.Field("pcrs"));
  if (!pcrs->is_array()) return r.Fail("pcrs", "not an array");
  if (pcrs->empty() || pcrs->size() > tpmwire::kPcrCount) {
    return r.Fail(
        "pcrs", std::to_string(pcrs->size()) + " entries; there must be 1-24");
  }
  for (std::size_t i = 0; i < pcrs->size(); ++i) {
    const Json& item = (*pcrs)[i];
    std::string where = "quote.pcrs[" + std::to_string(i) + "].";
    if (!item.is_object()) {
      return InvalidArgument("deep-quote evidence: quote.pcrs[" +
                             std::to_string(i) + "]: not an object");
    }
    ObjectReader pr(item, where);
    GuestPcr p;
    TVD_ASSIGN_OR_RETURN(std::int64_t index,
                         pr.Integer("index", tpmwire::kPcrCount - 1));
    p.index = static_cast<std::uint32_t>(index);
    TVD_ASSIGN_OR_RETURN(p.value, pr.Digest("sha256"));
    TVD_RETURN_IF_ERROR(pr.Done());
    if (!q.pcrs.empty() && p.index <= q.pcrs.back().index) {
      return pr.Fail("index", "PCR " + std::to_string(p.index) + " after " +
                                  std::to_string(q.pcrs.back().index) +
                                  " (ascending, each once)");
    }
    q.pcrs.push_back(p);
  }
  TVD_RETURN_IF_ERROR(r.Done());
  return q;
}

}  // namespace

UnixSeconds ToUnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
      .count();
}

std::string_view HostMembershipName(HostMembership m) {
  return m == HostMembership::kMember ? "member" : "evicted";
}

StatusOr<std::string> CanonicalStatement(const VtpmStatement& s) {
  TVD_RETURN_IF_ERROR(CheckName(s.tvd, "tvd"));
  TVD_RETURN_IF_ERROR(CheckName(s.vm, "vm"));
  TVD_RETURN_IF_ERROR(CheckName(s.host, "host"));
  if (s.vtpm_ak.empty() || s.vtpm_ak.size() > kMaxGuestStructure) {
    return InvalidArgument(
        "statement field vtpm_ak of " + std::to_string(s.vtpm_ak.size()) +
        " bytes; it must be 1-" + std::to_string(kMaxGuestStructure));
  }
  TVD_RETURN_IF_ERROR(CheckTime(s.binding_created, "binding_created"));
  TVD_RETURN_IF_ERROR(CheckTime(s.host_attested_at, "host_attested_at"));
  TVD_RETURN_IF_ERROR(CheckTime(s.issued_at, "issued_at"));
  Status nonce = CheckGuestNonce(s.nonce);
  if (!nonce.ok()) {
    return InvalidArgument("statement field nonce: " + nonce.message());
  }
  std::string out(kStatementFormat);
  out += "\n";
  auto line = [&out](std::string_view key, const std::string& value) {
    out.append(key).append("=").append(value).append("\n");
  };
  line("tvd", s.tvd);
  line("vm", s.vm);
  line("host", s.host);
  line("vtpm_ek_sha256", ToHex(s.vtpm_ek_digest));
  line("vtpm_ak", ToHex(s.vtpm_ak));
  line("binding_created", std::to_string(s.binding_created));
  line("host_attested_at", std::to_string(s.host_attested_at));
  line("host_pcr_digest", ToHex(s.host_pcr_digest));
  line("host_policy_digest", ToHex(s.host_policy_digest));
  line("host_state", std::string(HostMembershipName(s.host_state)));
  line("nonce", ToHex(s.nonce));
  line("issued_at", std::to_string(s.issued_at));
  return out;
}

StatusOr<SignedVtpmStatement> IssueVtpmStatement(
    const VtpmBinding& binding, const HostAttestationSummary& host,
    std::span<const std::uint8_t> nonce,
    std::chrono::system_clock::time_point now,
    const pki::KeyAndCertificate& master) {
  if (binding.host != host.host) {
    return FailedPrecondition("vTPM of VM " + binding.vm +
                              " is bound to host " + binding.host + ", not " +
                              host.host);
  }
  if (host.last_good == 0) {
    return FailedPrecondition("host " + host.host +
                              " has never passed attestation");
  }
  Status ak = CheckAttestationKey(binding.ak_public);
  if (!ak.ok()) return InvalidArgument("bound AK: " + ak.message());
  SignedVtpmStatement out;
  VtpmStatement& s = out.statement;
  s.tvd = binding.tvd;
  s.vm = binding.vm;
  s.host = binding.host;
  s.vtpm_ek_digest = Sha256(binding.ek_public);
  s.vtpm_ak = binding.ak_public;
  s.binding_created = binding.created;
  s.host_attested_at = host.last_good;
  s.host_pcr_digest = host.pcr_digest;
  s.host_policy_digest = host.policy_digest;
  s.host_state = host.state;
  s.nonce.assign(nonce.begin(), nonce.end());
  s.issued_at = ToUnixSeconds(now);
  TVD_ASSIGN_OR_RETURN(std::string canonical, CanonicalStatement(s));

  BioPtr bio(BIO_new_mem_buf(master.key_pem.data(),
                             static_cast<int>(master.key_pem.size())));
  EvpPkeyPtr key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
          : nullptr);
  if (!key) return InvalidArgument("master private key does not parse");
  X509Ptr cert = ParsePem(master.cert_pem);
  if (!cert) return InvalidArgument("master certificate does not parse");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return InvalidArgument("master private key does not match its certificate");
  }
  std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(canonical.data());
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, data, canonical.size()) != 1) {
    return Internal("cannot sign the vTPM statement");
  }
  out.signature.resize(size);
  if (EVP_DigestSign(ctx.get(), out.signature.data(), &size, data,
                     canonical.size()) != 1) {
    return Internal("cannot sign the vTPM statement");
  }
  out.signature.resize(size);
  out.master_certificate = master.cert_pem;
  return out;
}

StatusOr<std::string> EncodeDeepQuoteEvidence(const DeepQuoteEvidence& e) {
  TVD_RETURN_IF_ERROR(CanonicalStatement(e.statement.statement).status());
  // The quote answer's limits are the guest line's.
  TVD_RETURN_IF_ERROR(FormatGuestQuoteAnswer(e.quote).status());
  if (e.statement.signature.empty() ||
      e.statement.signature.size() > kMaxStatementSignature) {
    return InvalidArgument("statement signature of " +
                           std::to_string(e.statement.signature.size()) +
                           " bytes; it must be 1-" +
                           std::to_string(kMaxStatementSignature));
  }
  if (e.statement.master_certificate.empty() ||
      e.statement.master_certificate.size() > kMaxMasterCertificate) {
    return InvalidArgument(
        "master certificate of " +
        std::to_string(e.statement.master_certificate.size()) +
        " bytes; it must be 1-" + std::to_string(kMaxMasterCertificate));
  }
  Json pcrs = Json::array();
  for (const GuestPcr& p : e.quote.pcrs) {
    pcrs.push_back({{"index", p.index}, {"sha256", ToHex(p.value)}});
  }
  Json j = {{"format", std::string(kEvidenceFormat)},
            {"statement", StatementJson(e.statement.statement)},
            {"statement_signature", ToHex(e.statement.signature)},
            {"master_certificate", e.statement.master_certificate},
            {"quote",
             {{"ak_public", ToHex(e.quote.ak_public)},
              {"attest", ToHex(e.quote.attest)},
              {"signature", ToHex(e.quote.signature)},
              {"pcrs", pcrs}}}};
  std::string out = j.dump(2) + "\n";
  if (out.size() > kMaxDeepQuoteEvidence) {
    return InvalidArgument("evidence of " + std::to_string(out.size()) +
                           " bytes exceeds the maximum of " +
                           std::to_string(kMaxDeepQuoteEvidence));
  }
  return out;
}

StatusOr<DeepQuoteEvidence> ParseDeepQuoteEvidence(std::string_view text) {
  if (text.size() > kMaxDeepQuoteEvidence) {
    return InvalidArgument(
        "deep-quote evidence: " + std::to_string(text.size()) +
        " bytes exceed the maximum of " +
        std::to_string(kMaxDeepQuoteEvidence));
  }
  if (NestingDepth(text, kMaxDepth) > kMaxDepth) {
    return InvalidArgument("deep-quote evidence: nested deeper than " +
                           std::to_string(kMaxDepth) + " levels");
  }
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return InvalidArgument("deep-quote evidence: not JSON (truncated?)");
  }
  if (!j.is_object()) {
    return InvalidArgument("deep-quote evidence: not a JSON object");
  }
  ObjectReader r(j, "");
  TVD_ASSIGN_OR_RETURN(std::string format, r.String("format", 64));
  if (format != kEvidenceFormat) {
    return r.Fail("format",
                  "'" + format + "' is not " + std::string(kEvidenceFormat));
  }
  DeepQuoteEvidence e;
  TVD_ASSIGN_OR_RETURN(const Json* statement, r.Object("statement"));
  TVD_ASSIGN_OR_RETURN(e.statement.statement, ParseStatement(*statement));
  TVD_ASSIGN_OR_RETURN(e.statement.signature,
                       r.Hex("statement_signature", kMaxStatementSignature));
  TVD_ASSIGN_OR_RETURN(e.statement.master_certificate,
                       r.String("master_certificate", kMaxMasterCertificate));
  const std::string& pem = e.statement.master_certificate;
  if (pem.empty()) return r.Fail("master_certificate", "empty");
  for (std::size_t i = 0; i < pem.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(pem[i]);
    if ((c < 0x20 && c != '\n') || c > 0x7e) {
      return r.Fail("master_certificate",
                    "not PEM text (control or non-ASCII byte at position " +
                        std::to_string(i) + ")");
    }
  }
  TVD_ASSIGN_OR_RETURN(const Json* quote, r.Object("quote"));
  TVD_ASSIGN_OR_RETURN(e.quote, ParseQuote(*quote));
  TVD_RETURN_IF_ERROR(r.Done());
  return e;
}

StatusOr<VerifiedDeepQuote> VerifyDeepQuote(
    const DeepQuoteEvidence& evidence, const std::string& ca_certificate_pem,
    const DeepQuoteExpectation& expected,
    std::chrono::system_clock::time_point now) {
  if (expected.tvd.empty() || expected.vm.empty()) {
    return InvalidArgument("the expected TVD and VM must be given");
  }
  const SignedVtpmStatement& signed_statement = evidence.statement;
  const VtpmStatement& s = signed_statement.statement;
  VerifiedDeepQuote out;

  // 1. The master: a certificate of the VDC CA, valid now, naming it.
  X509Ptr ca = ParsePem(ca_certificate_pem);
  if (!ca) return InvalidArgument("CA certificate does not parse");
  X509Ptr cert = ParsePem(signed_statement.master_certificate);
  if (!cert) return Unauthenticated("master certificate does not parse");
  {
    std::unique_ptr<X509_STORE, Free> store(X509_STORE_new());
    std::unique_ptr<X509_STORE_CTX, Free> ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
      return Internal("cannot set up certificate verification");
    }
    X509_STORE_CTX_set_time(ctx.get(), 0,
                            std::chrono::system_clock::to_time_t(now));
    if (X509_verify_cert(ctx.get()) != 1) {
      return Unauthenticated(
          std::string("master certificate is not trusted: ") +
          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
    }
  }
  auto identity = pki::IdentityFromCertificate(cert.get());
  pki::Identity want{pki::Role::kHost, expected.master_name};
  if (!identity.ok() || *identity != want) {
    return Unauthenticated(
        "master certificate names " +
        (identity.ok() ? identity->ToString() : std::string("no identity")) +
        ", not the master " + want.ToString());
  }
  out.master = *identity;

  // 2. The statement, signed by that master.
  auto canonical = CanonicalStatement(s);
  {
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
    bool ok = canonical.ok() && key != nullptr && ctx &&
              EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                                   key) == 1 &&
              EVP_DigestVerify(
                  ctx.get(), signed_statement.signature.data(),
                  signed_statement.signature.size(),
                  reinterpret_cast<const unsigned char*>(canonical->data()),
                  canonical->size()) == 1;
    if (!ok) {
      return Unauthenticated(
          "statement signature does not verify with the master certificate");
    }
  }

  // 3. What it says, against what the tenant expects.
  if (s.tvd != expected.tvd) {
    return PermissionDenied("vTPM belongs to TVD " + s.tvd + ", not " +
                            expected.tvd);
  }
  if (s.vm != expected.vm) {
    return PermissionDenied("vTPM belongs to VM " + s.vm + " of TVD " + s.tvd +
                            ", not " + expected.vm);
  }
  if (!expected.nonce.empty() && s.nonce != expected.nonce) {
    return Unauthenticated("statement answers nonce " + ToHex(s.nonce) +
                           ", not the expected " + ToHex(expected.nonce));
  }
  const UnixSeconds at = ToUnixSeconds(now);
  if (s.issued_at - at > expected.max_clock_skew.count()) {
    return Unauthenticated("statement is dated " + Seconds(s.issued_at - at) +
                           " in the future (clock skew allowed: " +
                           Seconds(expected.max_clock_skew.count()) + ")");
  }
  if (at - s.issued_at > expected.max_statement_age.count()) {
    return Unauthenticated("statement is stale: issued " +
                           Seconds(at - s.issued_at) + " ago, the maximum is " +
                           Seconds(expected.max_statement_age.count()));
  }
  if (s.host_state == HostMembership::kEvicted) {
    return PermissionDenied("host " + s.host + " is evicted");
  }
  // Measured from the statement's issue: the master vouches for the host
  // as it stood then.
  if (s.issued_at - s.host_attested_at >
      expected.max_host_attestation_age.count()) {
    return PermissionDenied(
        "host " + s.host + "'s latest successful attestation is " +
        Seconds(s.issued_at - s.host_attested_at) + " old, the maximum is " +
        Seconds(expected.max_host_attestation_age.count()));
  }

  // 4. The quote, by the AK the master bound to this VM's vTPM.
  if (evidence.quote.ak_public != s.vtpm_ak) {
    return Unauthenticated(
        "the quote's AK is not the AK the master bound to the vTPM of VM " +
        s.vm);
  }
  Status ak_ok = CheckAttestationKey(s.vtpm_ak);
  if (!ak_ok.ok()) return Unauthenticated("bound AK: " + ak_ok.message());
  auto ak = PublicKeyFromTpm(s.vtpm_ak);
  if (!ak.ok()) return Unauthenticated("bound AK: " + ak.status().message());
  TVD_ASSIGN_OR_RETURN(TPMS_ATTEST attest,
                       ParseQuoteAttest(evidence.quote.attest));
  TVD_RETURN_IF_ERROR(VerifyQuoteSignature(
      ak->get(), evidence.quote.attest, evidence.quote.signature,
      "quote signature does not verify with the bound AK"));
  if (!QuoteQualifies(attest, s.nonce)) {
    return Unauthenticated("quote is not over the statement's nonce");
  }
  std::vector<std::uint32_t> indices;
  std::vector<PcrValue> values;
  for (const GuestPcr& p : evidence.quote.pcrs) {
    indices.push_back(p.index);
    PcrValue v;
    v.index = p.index;
    std::copy(p.value.begin(), p.value.end(), v.value.begin());
    values.push_back(v);
  }
  TVD_ASSIGN_OR_RETURN(out.pcrs, CheckQuotedPcrs(attest, indices, values));
  out.statement = s;
  out.clock = attest.clockInfo.clock;
  out.reset_count = attest.clockInfo.resetCount;
  out.restart_count = attest.clockInfo.restartCount;
  return out;
}

}  // namespace tvd::attest
