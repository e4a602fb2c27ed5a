// The deep quote: evidence a tenant verifies on its own, offline, against
// the VDC CA only (docs/vtpm.md, "The deep quote").
//
//   1. The master signs a VtpmStatement: this vTPM (its EK digest and its AK,
//      vtpm_ak_template.h) belongs to VM `vm` of TVD `tvd` on host `host`,
//      recorded when the proxy created the vTPM; that host's latest
//      successful attestation (time, PCR digest, policy digest) and whether
//      it is still a member; the tenant's nonce; when the statement was
//      issued. It signs with the key of its TLS certificate (role host, name
//      the master's, "tvd-master" by default: pki/identity.h has no master
//      role and the master already presents this certificate to every
//      host).
//   2. The guest's vTPM quotes its PCRs with that AK over the same nonce
//      (guest_quote.h).
//   3. VerifyDeepQuote checks the chain: master certificate -> statement ->
//      AK -> quote -> PCR values, and the statement's claims against what
//      the tenant expects.
//
// Pure: no I/O, time passed in. Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/attest/guest_quote.h"
#include "tvd/attest/tpm.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/pki/identity.h"
#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::attest {

// Times are Unix seconds (UTC).
using UnixSeconds = std::int64_t;
UnixSeconds ToUnixSeconds(std::chrono::system_clock::time_point t);

enum class HostMembership { kMember, kEvicted };
// "member", "evicted".
std::string_view HostMembershipName(HostMembership m);

struct VtpmStatement {
  std::string tvd;
  std::string vm;
  std::string host;
  Sha256Digest vtpm_ek_digest{};      // SHA-256 of the EK's TPM2B_PUBLIC
  std::vector<std::uint8_t> vtpm_ak;  // the AK's TPM2B_PUBLIC
  UnixSeconds binding_created = 0;    // when the proxy created the vTPM
  UnixSeconds host_attested_at = 0;   // the host's latest good quote
  Sha256Digest host_pcr_digest{};     // that quote's PCR digest
  Sha256Digest host_policy_digest{};  // the TVD policy it was judged by
  HostMembership host_state = HostMembership::kMember;
  std::vector<std::uint8_t> nonce;  // the tenant's, 16-64 bytes
  UnixSeconds issued_at = 0;
  friend bool operator==(const VtpmStatement&, const VtpmStatement&) = default;
};

// The bytes the master signs: "tvd-vtpm-statement/1\n" then one
// "key=value\n" line per field in the order above (names as they are, which
// IsValidName keeps free of '=' and newlines; digests, AK and nonce in
// lower-case hex; times and the state as decimal and names). One statement
// has one encoding. InvalidArgument naming the field when a name is not
// IsValidName, the AK is empty or over kMaxGuestStructure bytes, the nonce
// is not 16-64 bytes, or a time is negative.
StatusOr<std::string> CanonicalStatement(const VtpmStatement& s);

struct SignedVtpmStatement {
  VtpmStatement statement;
  std::vector<std::uint8_t> signature;  // ECDSA-SHA256 (DER) of the canonical
  std::string master_certificate;       // PEM, issued by the VDC CA
};

// What the master knows when asked: the binding the proxy recorded at vTPM
// creation (vtpm branch) and the host's attestation record.
struct VtpmBinding {
  std::string tvd;
  std::string vm;
  std::string host;
  std::vector<std::uint8_t> ek_public;  // TPM2B_PUBLIC
  std::vector<std::uint8_t> ak_public;  // TPM2B_PUBLIC
  UnixSeconds created = 0;
};
struct HostAttestationSummary {
  std::string host;
  HostMembership state = HostMembership::kMember;
  UnixSeconds last_good = 0;  // 0: never attested
  Sha256Digest pcr_digest{};
  Sha256Digest policy_digest{};
};

// The master's side: the statement for `binding` and `host`, over `nonce`,
// issued at `now`, signed with `master` (its certificate and key). An
// evicted host is stated as such (the tenant's verification then fails
// with the reason) rather than refused, so the tenant learns why.
// FailedPrecondition when the binding's host is not `host.host` or the host
// has never attested; InvalidArgument for an AK that is not an attestation
// key (CheckAttestationKey) or a field CanonicalStatement refuses, or when
// the key does not parse or does not match the certificate.
StatusOr<SignedVtpmStatement> IssueVtpmStatement(
    const VtpmBinding& binding, const HostAttestationSummary& host,
    std::span<const std::uint8_t> nonce,
    std::chrono::system_clock::time_point now,
    const pki::KeyAndCertificate& master);

// The whole evidence: the signed statement and the guest's quote answer.
struct DeepQuoteEvidence {
  SignedVtpmStatement statement;
  GuestQuoteAnswer quote;
};

// Limits of the parser.
inline constexpr std::size_t kMaxDeepQuoteEvidence = 64 * 1024;
inline constexpr std::size_t kMaxMasterCertificate = 8 * 1024;
inline constexpr std::size_t kMaxStatementSignature = 256;

// JSON (what `tvdctl vm attest --json` prints; docs/vtpm.md):
//   {"format": "tvd-deep-quote/1",
//    "statement": {"tvd", "vm", "host", "vtpm_ek_sha256", "vtpm_ak",
//                  "binding_created", "host_attested_at", "host_pcr_digest",
//                  "host_policy_digest", "host_state", "nonce", "issued_at"},
//    "statement_signature": hex, "master_certificate": PEM,
//    "quote": {"ak_public", "attest", "signature",
//              "pcrs": [{"index": N, "sha256": hex}, ...]}}
// InvalidArgument for evidence EncodeDeepQuoteEvidence's parser would refuse.
StatusOr<std::string> EncodeDeepQuoteEvidence(const DeepQuoteEvidence& e);

// Refuses, with InvalidArgument "deep-quote evidence: <where>: <why>":
// more than kMaxDeepQuoteEvidence bytes, nesting deeper than the format's,
// text that is not JSON, a missing, unknown or mistyped field, a name that
// is not IsValidName, hex that is not lower case or of the wrong length, a
// structure over its limit, a master certificate that is empty or not
// printable ASCII and newlines, a time that is negative or past year 10000, a
// PCR list that is empty, over 24, out of range, or not ascending.
StatusOr<DeepQuoteEvidence> ParseDeepQuoteEvidence(std::string_view json);

struct DeepQuoteExpectation {
  std::string tvd;                  // required
  std::string vm;                   // required
  std::vector<std::uint8_t> nonce;  // empty: freshness rests on issued_at
  std::string master_name = "tvd-master";
  std::chrono::seconds max_statement_age{300};
  std::chrono::seconds max_host_attestation_age{3600};
  // How far in the future a statement may be dated (clock skew).
  std::chrono::seconds max_clock_skew{60};
};

struct VerifiedDeepQuote {
  VtpmStatement statement;
  pki::Identity master;
  std::vector<PcrValue> pcrs;  // the vTPM's, as quoted, ascending
  // The vTPM's clock at the quote (TPMS_CLOCK_INFO).
  std::uint64_t clock = 0;
  std::uint32_t reset_count = 0;
  std::uint32_t restart_count = 0;
};

// Checks, in this order, each failure with its own reason:
//   InvalidArgument  "the expected TVD and VM must be given"
//   Unauthenticated  "master certificate does not parse"
//                    "master certificate is not trusted: <OpenSSL reason>"
//                    "master certificate names <role:name>, not the master
//                     host:<master_name>"
//                    "statement signature does not verify with the master
//                     certificate" (also for a statement that does not
//                     encode)
//   PermissionDenied "vTPM belongs to TVD <X>, not <Y>"
//                    "vTPM belongs to VM <X> of TVD <T>, not <Y>"
//   Unauthenticated  "statement answers nonce <hex>, not the expected <hex>"
//                    "statement is dated N s in the future (clock skew
//                     allowed: M s)"
//                    "statement is stale: issued N s ago, the maximum is M s"
//   PermissionDenied "host <H> is evicted"
//                    "host <H>'s latest successful attestation is N s old,
//                     the maximum is M s"
//   Unauthenticated  "the quote's AK is not the AK the master bound to the
//                     vTPM of VM <V>"
//                    "bound AK: <CheckAttestationKey reason>"
//                    quote_check.h's reasons, the signature's as "quote
//                     signature does not verify with the bound AK"
//                    "quote is not over the statement's nonce"
//                    "reported PCR values do not match the quoted PCR
//                     digest" (quote_check.h)
StatusOr<VerifiedDeepQuote> VerifyDeepQuote(
    const DeepQuoteEvidence& evidence, const std::string& ca_certificate_pem,
    const DeepQuoteExpectation& expected,
    std::chrono::system_clock::time_point now);

}  // namespace tvd::attest
