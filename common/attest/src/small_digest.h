// SHA-256 / SHA-1 of small inputs for the IMA replay's hot loop.
//
// Why not tvd::Sha256 / EVP: the replay hashes two inputs of 64-110 bytes per
// entry, and EVP's per-call provider dispatch costs more than the hashing
// itself (measured here: 331 ns per 64-byte digest through a reused
// EVP_MD_CTX, 144 ns through the direct functions). These are OpenSSL's own
// implementations (with SHA-NI where the CPU has it), reached through the
// direct interface that OpenSSL 3 marks deprecated; use them nowhere else.
#pragma once

#include <cstdint>
#include <span>

namespace tvd::attest::internal {

// SHA-256(a || b) into out[32].
void Sha256Small(std::span<const std::uint8_t> a,
                 std::span<const std::uint8_t> b, std::uint8_t* out);
// SHA-1(a) into out[20].
void Sha1Small(std::span<const std::uint8_t> a, std::uint8_t* out);

}  // namespace tvd::attest::internal
