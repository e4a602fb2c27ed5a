// What the master's request handlers share: the injected seams, the
// attestation state, the registry under the one decision lock, the member
// hub and the write journal. Internal to tvd-master.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "tvd/attest/ak_registry.h"
#include "tvd/attest/enrolment.h"
#include "tvd/attest/nonce_registry.h"
#include "tvd/attest/quote_verifier.h"
#include "tvd/clock.h"
#include "tvd/master/guest_quote_broker.h"
#include "tvd/master/master.h"
#include "tvd/master/member_hub.h"
#include "tvd/master/store.h"
#include "tvd/master/store_gate.h"
#include "tvd/master/store_mirror.h"
#include "tvd/master/tvd_registry.h"
#include "tvd/master/write_journal.h"
#include "tvd/mutex.h"

namespace tvd::master {

// Each host's latest good attestation on this master's channels: what a
// deep quote's statement says about the host (docs/vtpm.md). In memory: a
// host that connects to this master passes an attestation first.
class GoodAttestations {
 public:
  struct Entry {
    std::int64_t at = 0;  // unix seconds
    Sha256Digest pcr_digest{};
  };
  void Record(const std::string& host, const Sha256Digest& pcr_digest) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now()
                                     .time_since_epoch())
                                 .count();
    MutexLock lock(mutex_);
    entries_[host] = {now, pcr_digest};
  }
  std::optional<Entry> Get(const std::string& host) const {
    MutexLock lock(mutex_);
    auto it = entries_.find(host);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable Mutex mutex_;
  std::map<std::string, Entry> entries_ TVD_GUARDED_BY(mutex_);
};

struct MasterCore {
  MasterCore(MasterOptions o, StorePtr s, ClockPtr c)
      : options(std::move(o)),
        store(std::move(s)),
        clock(std::move(c)),
        store_gate(options.store_gate ? options.store_gate
                                      : std::make_shared<StoreGate>()),
        journal(
            *store, [this](const Status&) { hub.EndAll(); },
            [gate = store_gate] { return gate->Check(); }) {}

  // OK while this master serves; Unavailable "master cut off from its
  // store: ..." while it is cut off from its store (store_fence.h). Every
  // join, host request, admin change and admin query other than "master"
  // asks first.
  Status Serving() const { return serving.Check(); }

  // Under `mutex`: turns the decision's notices into pushes to the channels
  // current now (a notice that ends a channel detaches it at once, so no
  // request is served on it any more) and its broadcasts into places in
  // their TVDs' feeds (MemberHub::Reserve), and queues the writes; the
  // pushes and broadcasts (in the decision's order) and then `after` run
  // once the writes are durable. Wait on the ticket outside `mutex`.
  WriteJournal::Ticket SubmitLocked(Decision decision,
                                    std::function<void()> after = {})
      TVD_REQUIRES(mutex);
  // An audit row through the journal (so it is ordered with the decisions
  // and written before the answer), waited for; a lost row is logged.
  void Audit(const std::string& actor, const std::string& action,
             const std::string& subject, bool allowed,
             const std::string& reason);
  // Evicts `host` from every TVD it is in, as a failed re-attestation does
  // (the registry's Evict under `mutex`, through the journal), and waits
  // until that is durable. For the singleton duties (master_duties.h):
  // the transitions are fenced (TvdTransition::fenced), so a master that
  // does not hold the duty lock evicts nobody; the store's refusal
  // (PermissionDenied) is returned after the registry is reloaded from
  // the store (the eviction was made in memory only).
  Status EvictNow(const std::string& host, const std::string& reason)
      TVD_EXCLUDES(mutex);
  // The answer to AdminQuery "master" (JSON; master_duties.h); set by
  // Master::Create.
  std::function<std::string()> replica_status;

  // Replicas sharing a store (replica_sync.cc). What another master wrote,
  // as the store watch saw it: the registry takes it and the members here
  // hear the difference (through the journal, so after what this master
  // decided before).
  void ApplyStoreChange(const StoreChange& change);
  // Runs `decide` (under `mutex`, returning the ticket to wait for) and
  // waits; when the decision lost its race to another master
  // (FailedPrecondition from a TVD transition: nothing was written), waits
  // for the store watch to bring the stored state and decides again, up to
  // kDecideAttempts times. Returns the last wait's status.
  Status DecideAndWait(
      const std::function<StatusOr<WriteJournal::Ticket>()>& decide);
  static constexpr int kDecideAttempts = 6;
  // The registry's TVDs, members and host addresses as the store holds
  // them now: every stored TVD taken as stored (even a row with a token
  // this master produced: a decision of its own may have been made in
  // memory and never written), TVDs no longer stored dropped. After a cut
  // from the store (no member channel is open then) and after a fenced
  // eviction the store refused. The store's read errors, ApplyStored's.
  Status ReloadFromStore() TVD_EXCLUDES(mutex);

  const MasterOptions options;
  const StorePtr store;
  const ClockPtr clock;
  // Closed by the store fence while the store's leader cannot be reached:
  // store calls give up at once (store_gate.h).
  const StoreGatePtr store_gate;
  // Closed from the moment the master is cut off until its view is
  // reloaded from the store again.
  StoreGate serving;
  attest::AkRegistry aks;
  attest::NonceRegistry nonces;
  attest::AkEnroller enroller{aks};
  // IMA replay state between a host's quotes, in memory (derivable: lost,
  // it costs one full replay): a re-attestation replays only the entries
  // new since the last good quote (tvd/attest/ima_incremental.h).
  attest::ImaReplayCache ima_cache;
  attest::QuoteVerifier verifier{aks, nonces, &ima_cache};
  std::atomic<bool> stop{false};
  // Deep quotes (tenant_requests.h): the guest quotes asked of hosts, and
  // what the hosts last proved.
  GuestQuoteBroker guest_quotes;
  GoodAttestations good_attestations;

  // Guards `registry` and orders decisions: every change is decided and
  // submitted to the journal while holding it.
  Mutex mutex;
  TvdRegistry registry TVD_GUARDED_BY(mutex);
  MemberHub hub;         // own lock
  WriteJournal journal;  // own lock; declared last: stopped first
};

// "tvd/host", the subject of audit rows.
inline std::string Subject(const std::string& tvd, const std::string& host) {
  return tvd + "/" + host;
}

}  // namespace tvd::master
