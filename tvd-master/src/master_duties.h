// The master's singleton duties wired to its core: with the OVSDB store,
// an OvsdbLock "tvd_master_duties" on the store's remotes decides which
// replica runs them; with SQLite (one master) this master always does.
// Also renders the replica's status for AdminQuery "master" (tvdctl master
// status). Internal to tvd-master.
#pragma once

#include <memory>
#include <string>

#include "master_core.h"
#include "tvd/master/ovsdb_lock.h"
#include "tvd/master/singleton_duties.h"

namespace tvd::master {

class OvsdbStore;

inline constexpr char kDutyLockName[] = "tvd_master_duties";

class MasterDuties {
 public:
  // Starts the lock (OVSDB store) and the sweeping thread. The lock's
  // options' errors (OvsdbLock::Start).
  static StatusOr<std::unique_ptr<MasterDuties>> Start(MasterCore& core);
  ~MasterDuties();
  // Stops the sweeps, then releases the lock. Idempotent.
  void Stop();

  bool held() const;
  const OvsdbLock* lock() const { return lock_.get(); }
  const SingletonDuties& runner() const { return *runner_; }

 private:
  MasterDuties() = default;
  std::unique_ptr<OvsdbLock> lock_;  // null with SQLite
  // The store whose fenced transitions go through lock_ (null: none).
  OvsdbStore* fenced_store_ = nullptr;
  std::unique_ptr<SingletonDuties> runner_;
};

// The JSON of AdminQuery "master" for this replica (docs/master.md):
//   {"store": "sqlite"|"ovsdb", "remotes": [...],
//    "duties": {"running": b, "held": b, "evictions": n,
//               "lock_takeover_ms": n, "eviction_grace_ms": n},
//    "lock": null | {"name": s, "held": b, "remote": s, "grants": n,
//                    "losses": n},
//    "store_server": null | {"model": s, "leader": b, "connected": b,
//                            "index": n|null},
//    "members": n, "connected_members": n, "serving": b,
//    "serving_error": s (only while not serving: cut off from the store)}
// `duties` may be null (not running).
std::string ReplicaStatusJson(MasterCore& core, const MasterDuties* duties);

}  // namespace tvd::master
