#include "tvd/master/master.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "admin_requests.h"
#include "host_requests.h"
#include "master_core.h"
#include "master_duties.h"
#include "member_channels.h"
#include "tenant_requests.h"
#include "tvd/channel/channel_client.h"
#include "tvd/log.h"
#include "tvd/master/key_wrap.h"
#include "tvd/master/ovsdb_store.h"
#include "tvd/master/ovsdb_store_watch.h"
#include "tvd/master/store_fence.h"
#include "tvd/mutex.h"

namespace tvd::master {
namespace {

using channel::Connection;
using channel::Frame;
using channel::MessageType;

// Start-up: the registry from the state store and the policy directory,
// the AK registry from the store, a new epoch for every TVD.
Status Load(MasterCore& core) {
  Store& store = *core.store;
  for (const auto& [host, digest] : core.options.trusted_eks) {
    core.enroller.TrustEk({pki::Role::kHost, host}, digest);
  }
  TVD_ASSIGN_OR_RETURN(auto aks, store.ListAks());
  for (const auto& [host, ak] : aks) {
    TVD_RETURN_IF_ERROR(core.aks.Add({pki::Role::kHost, host}, ak)
                            .WithContext("stored AK of " + host));
  }
  // The TPM clock history outlives the process: without it, a TPM reset
  // or a clock set back would go unnoticed across a master restart.
  TVD_ASSIGN_OR_RETURN(std::vector<AkClockRow> clocks, store.ListAkClocks());
  for (const AkClockRow& c : clocks) {
    core.aks.RestoreClock(c.ak_name, {c.clock, c.reset_count, c.restart_count});
  }
  // Written from the verifying thread, outside the decision lock, through
  // the journal (so a thousand quotes at once share its batches' commits):
  // a write that only moves forward, so concurrent quotes cannot move it
  // back. Its failure fails only that quote.
  WriteJournal* journal = &core.journal;
  core.aks.SetClockSink([journal](std::span<const std::uint8_t> name,
                                  const attest::TpmClockState& state) {
    AkClockRow row{{name.begin(), name.end()},
                   state.clock,
                   state.reset_count,
                   state.restart_count};
    return journal->Apply({{[row](Store& s) { return s.PutAkClock(row); }, true,
                            "PutAkClock", true}},
                          {});
  });
  TVD_ASSIGN_OR_RETURN(std::vector<TvdRow> rows, store.ListTvds());
  TVD_ASSIGN_OR_RETURN(std::vector<HostRow> hosts, store.ListHosts());
  Decision start;
  {
    MutexLock lock(core.mutex);
    for (const TvdRow& row : rows) {
      TVD_ASSIGN_OR_RETURN(auto members, store.Members(row.name));
      TVD_RETURN_IF_ERROR(core.registry.Restore(row, members));
    }
    for (const HostRow& h : hosts)
      core.registry.RestoreHost(h.name, h.underlay);
  }
  // What each host's relay last claimed: a restarted master keeps counting
  // the domains that kept running meanwhile.
  TVD_ASSIGN_OR_RETURN(std::vector<QuotaUsageRow> usage,
                       store.ListQuotaUsage());
  {
    MutexLock lock(core.mutex);
    for (const QuotaUsageRow& u : usage) core.registry.RestoreUsage(u);
  }
  if (!core.options.policy_dir.empty()) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(core.options.policy_dir, ec)) {
      if (entry.path().extension() == ".xml") files.push_back(entry.path());
    }
    if (ec) {
      return IoError("policy dir " + core.options.policy_dir + ": " +
                     ec.message());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      MutexLock lock(core.mutex);
      TVD_ASSIGN_OR_RETURN(Decision d,
                           core.registry.LoadFile(path.string(), buffer.str()));
      start.Append(std::move(d));
    }
  }
  WriteJournal::Ticket ticket;
  {
    MutexLock lock(core.mutex);
    if (core.options.ovsdb_remotes.empty()) {
      // One master: its keys lived in its memory only, every TVD starts a
      // new epoch now.
      start.Append(core.registry.RekeyAll());
    } else {
      // Replicas share each epoch's key through the store (wrapped); only
      // a TVD without one gets a first key.
      for (const auto& [name, t] : core.registry.tvds()) {
        if (t.key.empty()) start.Append(core.registry.Rekey(name).value());
      }
    }
    ticket = core.SubmitLocked(std::move(start));
  }
  return core.journal.Wait(ticket);
}

// Load, started over from the store when a decision of the start-up (a
// policy file, a first key) lost its race to another master starting at
// the same time.
Status LoadShared(MasterCore& core) {
  Status loaded = Status::Ok();
  for (int attempt = 0; attempt < MasterCore::kDecideAttempts; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
      MutexLock lock(core.mutex);
      core.registry.Clear();
    }
    loaded = Load(core);
    if (loaded.code() != ErrorCode::kFailedPrecondition) return loaded;
  }
  return loaded;
}

// One leader probe of the store fence: a read that the link sends only to
// a server it has just confirmed as the leader (or standalone).
Status ProbeLeader(OvsdbLeaderLink& link) {
  nlohmann::json ops = nlohmann::json::array(
      {nlohmann::json{{"op", "select"},
                      {"table", "Store_Identity"},
                      {"where", nlohmann::json::array()},
                      {"columns", nlohmann::json::array({"_uuid"})}}});
  TVD_ASSIGN_OR_RETURN(TxnOutcome out, link.Read(ops));
  if (!out.ok) return Unavailable("store probe failed: " + out.error);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Master>> Master::Start(MasterOptions options) {
  StorePtr store;
  if (options.ovsdb_remotes.empty()) {
    TVD_ASSIGN_OR_RETURN(store, OpenSqliteStore(options.state_db));
  } else {
    if (!options.store_gate) {
      options.store_gate = std::make_shared<StoreGate>();
    }
    OvsdbStoreOptions o;
    o.remotes = options.ovsdb_remotes;
    o.gate = options.store_gate;
    // A call in flight when the master is cut off ends within one call
    // timeout after the gate closes: at most half the fail-over bound, so
    // a re-attestation round waiting on the store (its AK clock) does not
    // hold the host past its eviction deadline.
    o.call_timeout = std::min(o.call_timeout, options.store_failover / 2);
    TVD_ASSIGN_OR_RETURN(store, OpenOvsdbStore(std::move(o), options.kek));
  }
  // A copy stays in the options: the master signs deep-quote statements
  // with its certificate's key (tenant_requests.h).
  ListenerFactory listen =
      TlsListenerFactory(options.server, options.credentials.Clone());
  return Create(std::move(options), std::move(store),
                std::make_shared<SteadyClock>(), listen);
}

StatusOr<std::unique_ptr<Master>> Master::Create(
    MasterOptions options, StorePtr store, ClockPtr clock,
    const ListenerFactory& listen) {
  if (options.kek.size() != kKekSize) {
    return InvalidArgument("master KEK must be 32 bytes");
  }
  std::unique_ptr<Master> m(new Master());
  m->core_ = std::make_unique<MasterCore>(std::move(options), std::move(store),
                                          std::move(clock));
  {
    MutexLock lock(m->core_->mutex);
    m->core_->registry.SetKek(m->core_->options.kek.Clone());
  }
  TVD_RETURN_IF_ERROR(LoadShared(*m->core_));
  if (!m->core_->options.ovsdb_remotes.empty()) {
    // What the other masters decide from now on (and since the load: the
    // watch's first contents).
    MasterCore* core = m->core_.get();
    TVD_ASSIGN_OR_RETURN(
        m->watch_, OvsdbStoreWatch::Start(core->options.ovsdb_remotes,
                                          [core](const StoreChange& change) {
                                            core->ApplyStoreChange(change);
                                          }));
  }
  TVD_ASSIGN_OR_RETURN(m->members_, MemberChannels::Start(*m->core_));
  if (!m->core_->options.ovsdb_remotes.empty()) {
    TVD_RETURN_IF_ERROR(m->StartFence());
  }
  m->host_requests_ = std::make_unique<HostRequests>(*m->core_);
  m->admin_ = std::make_unique<AdminRequests>(*m->core_);
  m->tenant_ = std::make_unique<TenantRequests>(*m->core_);
  if (m->core_->options.run_duties) {
    TVD_ASSIGN_OR_RETURN(m->duties_, MasterDuties::Start(*m->core_));
  }
  Master* self = m.get();
  m->core_->replica_status = [self] {
    return ReplicaStatusJson(*self->core_, self->duties_.get());
  };
  auto join = [self](Connection& c, Frame f) {
    return self->members_->Join(c, f);
  };
  auto host = [self](Connection& c, Frame f) {
    return self->host_requests_->Handle(c, f);
  };
  auto claim = [self](Connection& c, Frame f) {
    return self->host_requests_->UsageClaim(c, f);
  };
  auto admin = [self](Connection& c, Frame f) {
    return self->admin_->Handle(c, std::move(f));
  };
  auto tenant = [self](Connection& c, Frame f) {
    return self->tenant_->Handle(c, f);
  };
  m->routes_ = {
      {MessageType::kJoinRequest, join},
      {MessageType::kDiskKeyRequest, host},
      {MessageType::kVmReport, host},
      {MessageType::kLeaveNotice, host},
      {MessageType::kUsageClaim, claim},
      {MessageType::kTvdAdd, admin},
      {MessageType::kTvdUpdate, admin},
      {MessageType::kTvdRemove, admin},
      {MessageType::kAdminQuery, admin},
      {MessageType::kVtpmKeyRequest, host},
      {MessageType::kVtpmRecord, host},
      {MessageType::kGuestQuoteReport, host},
      {MessageType::kVmAttestRequest, tenant},
  };
  TVD_ASSIGN_OR_RETURN(m->listener_, listen([self](Connection& conn) {
                         return self->Handle(conn);
                       }));
  return m;
}

Master::~Master() { Stop(); }

Status Master::StartFence() {
  MasterCore* core = core_.get();
  const auto bound = core->options.store_failover;
  // The probe's own connection: each attempt bounded by a quarter of the
  // bound, so a probe of a cut-off store returns within about the bound
  // even after trying every remote.
  OvsdbLinkOptions lo;
  lo.remotes = core->options.ovsdb_remotes;
  lo.schema_version = kTvdMasterSchemaVersion;
  lo.call_timeout = std::max(bound / 4, std::chrono::milliseconds(100));
  lo.failover_timeout = lo.call_timeout;
  auto link = std::make_shared<OvsdbLeaderLink>(std::move(lo));
  StoreFenceHooks hooks;
  hooks.probe = [link] { return ProbeLeader(*link); };
  hooks.lost = [core](const std::string& why) {
    core->serving.Close(why);
    // Without a LeaveNotice: the hosts keep their membership, VMs and
    // tunnels, and rejoin another master in their list.
    core->hub.EndAll();
  };
  Master* self = this;
  hooks.regained = [self, core, bound]() -> Status {
    // A watch that followed a server through the cut may have missed
    // updates without noticing: a new one, from the store as it is now.
    self->watch_.reset();
    TVD_ASSIGN_OR_RETURN(self->watch_, OvsdbStoreWatch::Start(
                                           core->options.ovsdb_remotes,
                                           [core](const StoreChange& change) {
                                             core->ApplyStoreChange(change);
                                           },
                                           bound));
    TVD_RETURN_IF_ERROR(core->ReloadFromStore());
    core->serving.Open();
    return Status::Ok();
  };
  StoreFenceOptions fo;
  fo.bound = bound;
  fence_ = StoreFence::Start(std::move(hooks), fo, core->store_gate);
  return Status::Ok();
}

void Master::Stop() {
  if (!core_) return;
  core_->stop = true;
  // First: its reload may start a new watch.
  if (fence_) fence_->Stop();
  if (duties_) duties_->Stop();
  if (listener_) listener_->Stop();
  watch_.reset();
  // The member channels the loop serves, once no join can hand it more.
  if (members_) members_->Stop();
  core_->journal.Stop();
}

Store& Master::store() { return *core_->store; }

attest::ImaReplayCache::Counters Master::ima_replay_counters() const {
  return core_->ima_cache.counters();
}

Status Master::Handle(Connection& conn) {
  TVD_ASSIGN_OR_RETURN(Frame first,
                       conn.ReadFrame(core_->options.timeouts.read));
  if (first.type == MessageType::kError) {
    return channel::DecodeErrorPayload(first.payload).WithContext("peer");
  }
  auto route = routes_.find(first.type);
  if (route == routes_.end()) {
    return ProtocolError("unexpected first message type " +
                         std::to_string(static_cast<int>(first.type)));
  }
  // Cut off from the store, a master neither admits nor releases anything;
  // admin channels are refused request by request (AdminRequests), so
  // that `tvdctl master status` still answers.
  if (first.type != MessageType::kTvdAdd &&
      first.type != MessageType::kTvdUpdate &&
      first.type != MessageType::kTvdRemove &&
      first.type != MessageType::kAdminQuery) {
    TVD_RETURN_IF_ERROR(core_->Serving());
  }
  return route->second(conn, std::move(first));
}

}  // namespace tvd::master
