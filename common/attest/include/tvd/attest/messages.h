// Payloads of the attestation messages (channel/frame.h types kEnrol* and
// kAttest*), encoded with channel/wire.h. Every Decode* refuses truncated,
// oversized or trailing data with a ProtocolError naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tvd/attest/nonce_registry.h"
#include "tvd/attest/tpm.h"
#include "tvd/status.h"

namespace tvd::attest {

// Limits that keep a hostile payload from costing much.
inline constexpr std::size_t kMaxTpmStructure = 4096;
inline constexpr std::size_t kMaxPcrs = 24;
inline constexpr std::size_t kMaxImaLog = 900 * 1024;  // fits a 1 MiB frame

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
};

struct Evidence {
  bool has_tpm = true;
  Nonce nonce{};                        // the challenge answered
  std::vector<std::uint8_t> ak_public;  // TPM2B_PUBLIC of the signer
  QuoteOutput quote;
  std::vector<PcrValue> pcrs;  // values at quote time
  std::string ima_log;         // ASCII list, when asked for
};

std::vector<std::uint8_t> Encode(const EnrolRequest& m);
std::vector<std::uint8_t> Encode(const CredentialChallenge& m);
std::vector<std::uint8_t> Encode(const EnrolProof& m);
std::vector<std::uint8_t> Encode(const AttestChallenge& m);
std::vector<std::uint8_t> Encode(const Evidence& m);

StatusOr<EnrolRequest> DecodeEnrolRequest(std::span<const std::uint8_t> in);
StatusOr<CredentialChallenge> DecodeCredentialChallenge(
    std::span<const std::uint8_t> in);
StatusOr<EnrolProof> DecodeEnrolProof(std::span<const std::uint8_t> in);
StatusOr<AttestChallenge> DecodeAttestChallenge(
    std::span<const std::uint8_t> in);
StatusOr<Evidence> DecodeEvidence(std::span<const std::uint8_t> in);

}  // namespace tvd::attest
