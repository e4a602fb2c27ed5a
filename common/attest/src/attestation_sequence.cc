#include "tvd/attest/attestation_sequence.h"

#include <atomic>

namespace tvd::attest {

std::uint64_t NextAttestationSequence() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace tvd::attest
