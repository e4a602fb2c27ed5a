// The IMA replay state the master keeps between a host's quotes
// (ima_incremental.h): per host identity and allowlist, what the host's
// last good quote verified. Pure state: no I/O, no clock; thread-safe (one
// lock, held only to copy a state in or out), since quotes of different
// hosts are verified on many threads.
//
// In memory only, and per master: it is derivable. A master that restarts,
// or a host that fails over to another master, costs one full replay.
//
// Identity: a state is found only under the host identity of the quote
// that verified it and the fingerprint of the allowlist it was checked
// against (ImaAllowlist::fingerprint), so entries checked against one list
// are never taken as checked against another; after a policy update the
// next quote is a full replay against the new list. The state names the AK
// that signed; a quote by another AK does not continue it. A host in
// several TVDs with different allowlists keeps one state per list, at most
// `max_per_host` (the least recently stored is dropped beyond that).
//
// Ordering: quotes of one host may be verified out of order (a member
// channel's round and a disk-key request at once). Store keeps the later of
// two states of one AK (reset count, restart count, then entries), so an
// older quote verified last does not wind the state back. A state that does
// not fit the next quote is harmless: that quote falls back to a full
// replay.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tvd/attest/ima_incremental.h"
#include "tvd/mutex.h"
#include "tvd/pki/identity.h"

namespace tvd::attest {

class ImaReplayCache {
 public:
  explicit ImaReplayCache(std::size_t max_per_host = 4)
      : max_per_host_(max_per_host < 1 ? 1 : max_per_host) {}

  // The state kept for `host` and this allowlist fingerprint, if any.
  std::optional<ImaReplayState> Find(const pki::Identity& host,
                                     const Sha256Digest& allowlist) const
      TVD_EXCLUDES(mutex_);

  // Keeps `state` (of a quote that passed every check) for `host` and
  // `allowlist`, unless the state kept there is of the same AK and later
  // (see Ordering).
  void Store(const pki::Identity& host, const Sha256Digest& allowlist,
             const ImaReplayState& state) TVD_EXCLUDES(mutex_);

  // Drops every state of `host` (its AK withdrawn, the host removed).
  void Forget(const pki::Identity& host) TVD_EXCLUDES(mutex_);

  // Number of states kept, over all hosts.
  std::size_t size() const TVD_EXCLUDES(mutex_);

  // How verifications went, for logs, tests and benchmarks.
  struct Counters {
    std::uint64_t full = 0;         // whole log replayed
    std::uint64_t incremental = 0;  // only new entries replayed
    std::uint64_t fallback = 0;     // incremental evidence did not apply
    bool operator==(const Counters&) const = default;
  };
  void Count(const ImaVerdict& verdict) TVD_EXCLUDES(mutex_);
  Counters counters() const TVD_EXCLUDES(mutex_);

 private:
  struct Slot {
    Sha256Digest allowlist{};
    ImaReplayState state;
    std::uint64_t stored = 0;  // store sequence number, for the LRU drop
  };

  const std::size_t max_per_host_;
  mutable Mutex mutex_;
  std::map<std::string, std::vector<Slot>> states_ TVD_GUARDED_BY(mutex_);
  std::uint64_t sequence_ TVD_GUARDED_BY(mutex_) = 0;
  Counters counters_ TVD_GUARDED_BY(mutex_);
};

}  // namespace tvd::attest
