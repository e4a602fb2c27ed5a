// The TVD master: accepts trusted-channel connections and runs the master
// protocol (tvd/protocol/messages.h; docs/master.md).
//
// Per connection the first frame decides the conversation:
//  * JoinRequest (host certificate): authorize from the TVD policy, enrol
//    the AK when the host asks, attest against the policy's host
//    requirements, record the membership, answer JoinGrant (policy, current
//    key epoch and key, members), tell the other members (MembershipUpdate),
//    then keep the channel: push updates, re-attest at the policy's
//    interval. A failed re-attestation evicts the host from every TVD it is
//    in: the remaining members get a MembershipUpdate without it and a new
//    key epoch, the host gets LeaveNotice and its channel is closed.
//  * DiskKeyRequest / VmReport / LeaveNotice (host certificate): one request
//    on its own connection, answered DiskKeyGrant / kAck or kError. Key
//    release and VM reports need the host's member channel of that TVD to
//    be attested (Session::attested); a key is sent only after this request
//    connection itself passed an attestation round (AttestChallenge ->
//    AttestEvidence -> AttestVerdict) whose quote is bound to its own TLS
//    exporter.
//  * TvdAdd / TvdUpdate / TvdRemove / AdminQuery (admin certificate): any
//    number of requests, each answered AdminReply or kError.
// Every decision is written to the state store (with an audit row) before
// the answer is sent. TVD keys live only in memory: a start-up gives every
// TVD a fresh key under a new epoch, handed out as members reconnect.
//
// Master is the wiring of the parts, each in its own file:
//  * TvdRegistry (tvd_registry.h): TVDs, members, epochs; pure decisions.
//  * WriteJournal (write_journal.h): makes decisions durable in order,
//    outside the decision lock, then delivers their messages.
//  * MemberHub (member_hub.h): live member channels, woken on a push;
//    MemberLoop (src/member_loop.h) serves them from one thread.
//  * MemberChannels, HostRequests, AdminRequests (src/): the protocol of
//    the join and member channel, of host requests, of admin requests.
//  * RenderQuery (query_json.h), ReattestSchedule (reattest_schedule.h),
//    LoadEkAllowlist (ek_allowlist.h).
// The store, the clock and the listener are injected (Master::Create).
//
// Locks, in the order they may nest: MasterCore::mutex (the registry and
// the decision order), MemberHub's map lock, a MemberSession's outbox lock,
// the journal's queue lock. None is held during network I/O or an fsync.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "tvd/attest/attestation_session.h"
#include "tvd/attest/ima_replay_cache.h"
#include "tvd/channel/channel_server.h"
#include "tvd/channel/tls_context.h"
#include "tvd/clock.h"
#include "tvd/master/ek_allowlist.h"
#include "tvd/master/listener.h"
#include "tvd/master/store.h"
#include "tvd/master/store_gate.h"
#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::master {

class OvsdbStoreWatch;
class StoreFence;

struct MasterOptions {
  channel::ServerOptions server;
  channel::TlsCredentials credentials;
  std::string policy_dir;  // may be empty: no policy files
  std::string state_db;
  // Non-empty: the state is on OVSDB at these remotes (ovsdb_store.h)
  // instead of SQLite at state_db.
  std::vector<std::string> ovsdb_remotes;
  SecureBytes kek;  // 32 bytes (LoadKek)
  // host name -> trusted EK digests (SHA-256 of the EK public area).
  std::multimap<std::string, Sha256Digest> trusted_eks;
  attest::SessionTimeouts timeouts;
  // The singleton duties (eviction deadlines; singleton_duties.h): off
  // unless run_duties (the daemon turns them on). With ovsdb_remotes they
  // run only while this master holds the OVSDB lock "tvd_master_duties",
  // whose takeover bound is lock_takeover (ovsdb_lock.h).
  bool run_duties = false;
  std::chrono::milliseconds lock_takeover{3000};
  std::chrono::milliseconds eviction_grace{10000};
  // With ovsdb_remotes: a master that has not reached its store's leader
  // for this long stops acting as a master until it does again
  // (store_fence.h, docs/master.md section 6b).
  std::chrono::milliseconds store_failover{4000};
  // How long a tenant's deep quote waits for the host's report of the
  // guest's quote (tenant_requests.h).
  std::chrono::milliseconds guest_quote_timeout{15000};
  // Shared with the store's calls (OvsdbStoreOptions::gate); Start sets
  // it, Create makes one when null.
  StoreGatePtr store_gate{};
};

struct MasterCore;
class MemberChannels;
class HostRequests;
class AdminRequests;
class TenantRequests;
class MasterDuties;

class Master {
 public:
  // Opens the state (options.state_db, or the OVSDB store at
  // options.ovsdb_remotes with its start-up checks), listens with TLS on
  // options.server, and runs Create.
  static StatusOr<std::unique_ptr<Master>> Start(MasterOptions options);
  // Loads TVDs (state first, then every *.xml in policy_dir: new ones are
  // added, changed ones updated), gives every TVD a new key epoch, re-adds
  // enrolled AKs, and starts listening through `listen`. Errors name the
  // file or the part that failed; InvalidArgument "master KEK must be 32
  // bytes".
  static StatusOr<std::unique_ptr<Master>> Create(
      MasterOptions options, StorePtr store, ClockPtr clock,
      const ListenerFactory& listen);
  // Closes every channel and stops. Idempotent.
  void Stop();
  ~Master();

  std::uint16_t port() const { return listener_->port(); }
  Store& store();
  // How this master's IMA checks went so far: full replays, incremental
  // ones, fallbacks to the whole log (docs/master.md section 7b).
  attest::ImaReplayCache::Counters ima_replay_counters() const;

 private:
  using Route = std::function<Status(channel::Connection&, channel::Frame)>;

  Master() = default;
  Status Handle(channel::Connection& conn);
  // With a shared store: the store fence (store_fence.h) and what it does
  // when the master is cut off and when the store is back.
  Status StartFence();

  std::unique_ptr<MasterCore> core_;
  std::unique_ptr<MemberChannels> members_;
  std::unique_ptr<HostRequests> host_requests_;
  std::unique_ptr<AdminRequests> admin_;
  std::unique_ptr<TenantRequests> tenant_;
  std::unique_ptr<MasterDuties> duties_;  // null unless run_duties
  // First frame of a connection -> its handler. A new request kind is one
  // more entry (see Create).
  std::map<channel::MessageType, Route> routes_;
  ListenerPtr listener_;
  // With a shared store: what the other masters decide (replica_sync.cc).
  std::unique_ptr<OvsdbStoreWatch> watch_;
  // With a shared store: stops this master while it cannot reach the
  // store's leader, resumes it when it can (store_fence.h).
  std::unique_ptr<StoreFence> fence_;
};

}  // namespace tvd::master
