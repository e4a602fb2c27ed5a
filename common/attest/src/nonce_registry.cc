#include "tvd/attest/nonce_registry.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "tvd/attest/attestation_sequence.h"
#include "tvd/mutex.h"

namespace tvd::attest {

NonceRegistry::NonceRegistry(std::chrono::seconds lifetime, Clock clock,
                             Source source)
    : lifetime_(lifetime),
      clock_(std::move(clock)),
      source_(std::move(source)) {}

void NonceRegistry::Expire(std::chrono::steady_clock::time_point now) {
  // A sweep walks both maps; once a second is often enough, since the age
  // of the nonce at hand is checked in Consume() anyway.
  if (now >= last_sweep_ && now - last_sweep_ < std::chrono::seconds(1)) {
    return;
  }
  last_sweep_ = now;
  for (auto it = used_.begin(); it != used_.end();) {
    it = now - it->second > lifetime_ ? used_.erase(it) : std::next(it);
  }
  // Outstanding nonces are kept until answered or 2x lifetime, so an answer
  // that comes late is told "expired" rather than "unknown".
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    it = now - it->second.issued > 2 * lifetime_ ? outstanding_.erase(it)
                                                 : std::next(it);
  }
}

Nonce NonceRegistry::Issue(std::uint64_t connection_id) {
  Nonce n{};
  if (source_) {
    n = source_();
  } else if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
    std::abort();
  }
  auto now = clock_();
  MutexLock lock(mutex_);
  Expire(now);
  // Drawn under the lock, so a nonce's number is later than every TPM
  // state recorded before Issue returned.
  outstanding_[n] = {connection_id, now, NextAttestationSequence()};
  return n;
}

Status NonceRegistry::Consume(const Nonce& nonce, std::uint64_t connection_id) {
  return ConsumeIssued(nonce, connection_id).status();
}

StatusOr<std::uint64_t> NonceRegistry::ConsumeIssued(
    const Nonce& nonce, std::uint64_t connection_id) {
  auto now = clock_();
  MutexLock lock(mutex_);
  Expire(now);
  if (used_.count(nonce) != 0) {
    return Unauthenticated("nonce replayed: it was already used");
  }
  auto it = outstanding_.find(nonce);
  if (it == outstanding_.end()) return Unauthenticated("unknown nonce");
  Outstanding o = it->second;
  outstanding_.erase(it);
  used_[nonce] = now;
  if (o.connection_id != connection_id) {
    return Unauthenticated("nonce was issued to another connection");
  }
  if (now - o.issued > lifetime_) return Unauthenticated("nonce expired");
  return o.sequence;
}

}  // namespace tvd::attest
