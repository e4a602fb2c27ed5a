// One process-wide order of attestation events.
//
// Quotes from one TPM can be verified in another order than the TPM made
// them: a host answers its member channel's re-attestation and a key
// request's challenge at the same time, and the master verifies the two on
// different threads. A TPM state check that compares a quote with "the
// latest state seen" would then refuse the genuine quote that happened to
// be verified second. The right floor for a quote is the latest state seen
// before its nonce was issued: the TPM made the quote after that. Nonces and
// recorded TPM states draw numbers from this counter so the two can be
// compared.
#pragma once

#include <cstdint>

namespace tvd::attest {

// Strictly increasing across all threads of the process; never 0.
std::uint64_t NextAttestationSequence();

}  // namespace tvd::attest
