#include "tvd/attest/tpm_key_cache.h"

namespace tvd::attest {

std::optional<SavedKey> TpmKeyCache::Find(
    const std::vector<std::uint8_t>& tmpl) const {
  MutexLock lock(mu_);
  auto it = keys_.find(tmpl);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

void TpmKeyCache::Keep(const std::vector<std::uint8_t>& tmpl, SavedKey key) {
  MutexLock lock(mu_);
  keys_[tmpl] = std::move(key);
}

void TpmKeyCache::Forget(const std::vector<std::uint8_t>& tmpl) {
  MutexLock lock(mu_);
  keys_.erase(tmpl);
}

std::size_t TpmKeyCache::size() const {
  MutexLock lock(mu_);
  return keys_.size();
}

}  // namespace tvd::attest
