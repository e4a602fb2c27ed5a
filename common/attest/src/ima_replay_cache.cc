#include "tvd/attest/ima_replay_cache.h"

#include <algorithm>
#include <tuple>

namespace tvd::attest {
namespace {

// True when `a` comes from a later point of the TPM's life than `b`.
bool Later(const ImaReplayState& a, const ImaReplayState& b) {
  return std::tie(a.reset_count, a.restart_count, a.entries) >
         std::tie(b.reset_count, b.restart_count, b.entries);
}

}  // namespace

std::optional<ImaReplayState> ImaReplayCache::Find(
    const pki::Identity& host, const Sha256Digest& allowlist) const {
  MutexLock lock(mutex_);
  auto it = states_.find(host.ToString());
  if (it == states_.end()) return std::nullopt;
  for (const Slot& slot : it->second) {
    if (slot.allowlist == allowlist) return slot.state;
  }
  return std::nullopt;
}

void ImaReplayCache::Store(const pki::Identity& host,
                           const Sha256Digest& allowlist,
                           const ImaReplayState& state) {
  MutexLock lock(mutex_);
  std::vector<Slot>& slots = states_[host.ToString()];
  for (Slot& slot : slots) {
    if (slot.allowlist != allowlist) continue;
    if (slot.state.ak_name != state.ak_name || !Later(slot.state, state)) {
      slot.state = state;
      slot.stored = ++sequence_;
    }
    return;
  }
  if (slots.size() >= max_per_host_) {
    slots.erase(std::min_element(
        slots.begin(), slots.end(),
        [](const Slot& a, const Slot& b) { return a.stored < b.stored; }));
  }
  slots.push_back(Slot{allowlist, state, ++sequence_});
}

void ImaReplayCache::Forget(const pki::Identity& host) {
  MutexLock lock(mutex_);
  states_.erase(host.ToString());
}

std::size_t ImaReplayCache::size() const {
  MutexLock lock(mutex_);
  std::size_t n = 0;
  for (const auto& [host, slots] : states_) n += slots.size();
  return n;
}

void ImaReplayCache::Count(const ImaVerdict& verdict) {
  MutexLock lock(mutex_);
  if (!verdict.need_full_log.empty()) {
    ++counters_.fallback;
  } else if (verdict.path == ImaReplayPath::kIncremental) {
    ++counters_.incremental;
  } else {
    ++counters_.full;
  }
}

ImaReplayCache::Counters ImaReplayCache::counters() const {
  MutexLock lock(mutex_);
  return counters_;
}

}  // namespace tvd::attest
