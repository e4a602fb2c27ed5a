// Key derivation shared by the master and every proxy of a TVD.
//
// The master hands each member the TVD key of the current epoch (32 random
// bytes, memory only). Two members derive the pre-shared key of the tunnel
// between them independently:
//   PSK = HKDF-SHA256(ikm  = TVD key,
//                     salt = empty,
//                     info = "tvd-tunnel" || 0x00 || tvd || 0x00 ||
//                            lower host || 0x00 || higher host || 0x00 ||
//                            epoch as u64 big-endian,
//                     L    = 32)
// where "lower"/"higher" order the two host names bytewise, so both ends
// get the same value whichever of them computes it. The 0x00 separators
// keep distinct (tvd, host, host) triples from producing the same info.
#pragma once

#include <cstdint>
#include <string_view>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::protocol {

inline constexpr std::size_t kTunnelPskSize = 32;

// InvalidArgument when the key is not 32 bytes, a name is empty, the two
// hosts are the same, or epoch is 0; Internal if OpenSSL's HKDF fails.
StatusOr<SecureBytes> DeriveTunnelPsk(const SecureBytes& tvd_key,
                                      std::string_view tvd,
                                      std::string_view host_a,
                                      std::string_view host_b,
                                      std::uint64_t epoch);

}  // namespace tvd::protocol
