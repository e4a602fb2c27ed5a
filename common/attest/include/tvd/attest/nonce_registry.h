// Master nonces: 32 random bytes, each bound to the connection it was issued
// on, valid once and for a limited time. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::attest {

using Nonce = std::array<std::uint8_t, 32>;

class NonceRegistry {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `lifetime`: how long an issued nonce may be answered. Used nonces are
  // remembered for `lifetime` too, so a replay within that window is named
  // as such; later it is simply unknown.
  // Where nonces come from: the OpenSSL CSPRNG unless a benchmark or test
  // needs to reproduce a sequence.
  using Source = std::function<Nonce()>;

  explicit NonceRegistry(
      std::chrono::seconds lifetime = std::chrono::seconds(120),
      Clock clock = std::chrono::steady_clock::now, Source source = nullptr);

  // A fresh nonce for connection `connection_id`.
  Nonce Issue(std::uint64_t connection_id);

  // Consumes `nonce` for `connection_id`. Refusals (Unauthenticated):
  //   "nonce replayed: it was already used"
  //   "nonce was issued to another connection"
  //   "nonce expired"
  //   "unknown nonce"
  // A refused nonce that was outstanding is consumed too (no second try).
  Status Consume(const Nonce& nonce, std::uint64_t connection_id);
  // The same, returning the attestation sequence number drawn when the
  // nonce was issued (attestation_sequence.h): what the TPM state check of
  // the answering quote compares against.
  StatusOr<std::uint64_t> ConsumeIssued(const Nonce& nonce,
                                        std::uint64_t connection_id);

 private:
  void Expire(std::chrono::steady_clock::time_point now);  // needs mutex_

  std::chrono::seconds lifetime_;
  Clock clock_;
  Source source_;
  Mutex mutex_;
  struct Outstanding {
    std::uint64_t connection_id;
    std::chrono::steady_clock::time_point issued;
    std::uint64_t sequence;  // NextAttestationSequence() at Issue
  };
  std::chrono::steady_clock::time_point last_sweep_ TVD_GUARDED_BY(mutex_){};
  std::map<Nonce, Outstanding> outstanding_ TVD_GUARDED_BY(mutex_);
  std::map<Nonce, std::chrono::steady_clock::time_point> used_
      TVD_GUARDED_BY(mutex_);
};

}  // namespace tvd::attest
