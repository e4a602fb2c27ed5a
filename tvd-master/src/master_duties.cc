#include "master_duties.h"

#include <nlohmann/json.hpp>

#include "tvd/log.h"
#include "tvd/master/ovsdb_store.h"
#include "tvd/mutex.h"

namespace tvd::master {

Status MasterCore::EvictNow(const std::string& host,
                            const std::string& reason) {
  // Another master may change one of the host's TVDs meanwhile: decided
  // again on the stored row then (DecideAndWait).
  Status s = DecideAndWait([&]() -> StatusOr<WriteJournal::Ticket> {
    MutexLock lock(mutex);
    Decision d = registry.Evict(host, reason);
    for (StoreWrite& w : d.writes) {
      if (w.transition) w.transition->fenced = true;
    }
    return SubmitLocked(std::move(d));
  });
  if (s.code() == ErrorCode::kPermissionDenied) {
    Status reloaded = ReloadFromStore();
    if (!reloaded.ok()) {
      log::Error("reloading from the store after a refused eviction: ",
                 reloaded.ToString());
    }
  }
  return s;
}

StatusOr<std::unique_ptr<MasterDuties>> MasterDuties::Start(MasterCore& core) {
  std::unique_ptr<MasterDuties> d(new MasterDuties());
  const MasterOptions& o = core.options;
  if (!o.ovsdb_remotes.empty()) {
    OvsdbLockOptions lo = OvsdbLockOptions::ForTakeover(o.lock_takeover);
    lo.remotes = o.ovsdb_remotes;
    lo.lock_name = kDutyLockName;
    TVD_ASSIGN_OR_RETURN(d->lock_, OvsdbLock::Start(std::move(lo)));
    // The duty's evictions commit only behind the lock's assert.
    if (auto* ovsdb = dynamic_cast<OvsdbStore*>(core.store.get())) {
      OvsdbLock* lock = d->lock_.get();
      ovsdb->SetTransitionFence([lock](const nlohmann::json& ops) {
        return lock->TransactFenced(ops, OvsdbLock::Check::kHeld);
      });
      d->fenced_store_ = ovsdb;
    }
  }
  DutyHooks h;
  OvsdbLock* lock = d->lock_.get();
  // Cut off from the store, a master evicts nobody (its lock connection is
  // gone as well; this also covers the time until its hold bound ends).
  h.held = [lock, &core] {
    return (lock == nullptr || lock->held()) && core.serving.open();
  };
  h.members = [&core] {
    std::vector<MemberInterval> out;
    MutexLock l(core.mutex);
    for (const auto& [name, t] : core.registry.tvds()) {
      for (const std::string& m : t.members) {
        out.push_back({name, m, t.requirements.interval});
      }
    }
    return out;
  };
  h.hosts = [&core] { return core.store->ListHosts(); };
  h.evict = [&core](const OverdueHost& host) {
    return core.EvictNow(host.host, "eviction deadline: " + host.reason);
  };
  h.now_unix_ms = [] {
    return static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
  };
  DutyOptions dopt;
  dopt.grace = o.eviction_grace;
  d->runner_ = std::make_unique<SingletonDuties>(std::move(h), dopt);
  d->runner_->Start();
  return d;
}

MasterDuties::~MasterDuties() { Stop(); }

void MasterDuties::Stop() {
  if (runner_) runner_->Stop();
  if (fenced_store_) fenced_store_->SetTransitionFence({});
  if (lock_) lock_->Stop();
}

bool MasterDuties::held() const { return lock_ == nullptr || lock_->held(); }

std::string ReplicaStatusJson(MasterCore& core, const MasterDuties* duties) {
  using Json = nlohmann::json;
  const MasterOptions& o = core.options;
  std::size_t members = 0, connected = 0;
  {
    MutexLock l(core.mutex);
    for (const auto& [name, t] : core.registry.tvds()) {
      for (const std::string& m : t.members) {
        ++members;
        if (core.hub.Find(name, m) != nullptr) ++connected;
      }
    }
  }
  Json out = {{"store", o.ovsdb_remotes.empty() ? "sqlite" : "ovsdb"},
              {"remotes", o.ovsdb_remotes},
              {"members", members},
              {"connected_members", connected},
              {"duties", nullptr},
              {"lock", nullptr},
              {"store_server", nullptr}};
  // False while cut off from the store (store_fence.h), with the reason.
  out["serving"] = core.serving.open();
  if (!core.serving.open()) out["serving_error"] = core.Serving().message();
  if (duties == nullptr) return out.dump();
  out["duties"] = {{"running", true},
                   {"held", duties->held()},
                   {"evictions", duties->runner().evictions()},
                   {"lock_takeover_ms", o.lock_takeover.count()},
                   {"eviction_grace_ms", o.eviction_grace.count()}};
  if (const OvsdbLock* lock = duties->lock()) {
    OvsdbLock::Counters c = lock->counters();
    out["lock"] = {{"name", kDutyLockName},
                   {"held", lock->held()},
                   {"remote", lock->remote()},
                   {"grants", c.grants},
                   {"losses", c.losses}};
    if (auto s = lock->server_status()) {
      out["store_server"] = {{"model", s->model},
                             {"leader", s->leader},
                             {"connected", s->connected},
                             {"index", s->index ? Json(*s->index) : Json()}};
    }
  }
  return out.dump();
}

}  // namespace tvd::master
