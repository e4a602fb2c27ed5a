// Syntax check of IPsec proposal strings (strongSwan notation,
// "aes256gcm16-prfsha256-ecp256") against an allow-list of algorithms the
// project considers strong. Anything not on the list (sha1, modp1024, 3des,
// null, ...) is refused, so a policy cannot weaken a TVD's transport by
// accident.
//
// IKE proposal: one or more encryption tokens; integrity tokens required when
// any encryption algorithm is not AEAD; PRF tokens required when all are
// AEAD (optional otherwise); at least one key-exchange group.
// ESP proposal: one or more encryption tokens; integrity tokens required when
// any encryption algorithm is not AEAD; no PRF; key-exchange groups optional
// (PFS); "esn"/"noesn" optional.
// Tokens may not repeat.
#pragma once

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::policy {

enum class ProposalKind { kIke, kEsp };

// OK, or InvalidArgument whose message says what is wrong with which token
// ("unknown algorithm 'sha1'", "missing key-exchange group"). The caller adds
// file and line.
Status CheckIpsecProposal(std::string_view proposal, ProposalKind kind);

}  // namespace tvd::policy
