#include "tvd/master/singleton_duties.h"

#include "tvd/log.h"

namespace tvd::master {

SingletonDuties::SingletonDuties(DutyHooks hooks, DutyOptions options)
    : hooks_(std::move(hooks)), options_(options) {}

SingletonDuties::~SingletonDuties() { Stop(); }

void SingletonDuties::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void SingletonDuties::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void SingletonDuties::Run() {
  while (true) {
    {
      MutexLock lock(mu_);
      auto until = std::chrono::steady_clock::now() + options_.sweep;
      while (!stop_ && cv_.WaitUntil(mu_, until)) {
      }
      if (stop_) return;
    }
    auto swept = SweepOnce();
    if (!swept.ok()) {
      log::Warning("singleton duties: ", swept.status().ToString());
    }
  }
}

StatusOr<std::vector<OverdueHost>> SingletonDuties::SweepOnce() {
  if (!hooks_.held()) {
    if (holding_.exchange(false)) {
      log::Info("singleton duties: no longer held by this master");
    }
    duty_since_.reset();
    return std::vector<OverdueHost>{};
  }
  std::int64_t now = hooks_.now_unix_ms();
  if (!duty_since_) {
    duty_since_ = now;
    holding_ = true;
    log::Info("singleton duties: held by this master from now on");
  }
  std::vector<MemberInterval> members = hooks_.members();
  TVD_ASSIGN_OR_RETURN(std::vector<HostRow> hosts, hooks_.hosts());
  std::vector<OverdueHost> evicted;
  for (OverdueHost& first :
       OverdueHosts(members, hosts, now, *duty_since_, options_.grace)) {
    // The lock may have gone while the store was read.
    if (!hooks_.held()) break;
    // Read again just before the eviction: evicting the hosts before it
    // took a while (each one durable in the store), and a host may have
    // re-attested meanwhile (all of them rejoin at once after a restart of
    // every master); only what the store says now counts.
    std::optional<OverdueHost> o = Recheck(first.host);
    if (!o) {
      log::Info("not evicting ", first.host,
                ": its attestation or membership changed since the sweep "
                "began");
      continue;
    }
    log::Warning("evicting ", o->host, ": ", o->reason);
    Status s = hooks_.evict(*o);
    if (!s.ok()) {
      log::Error("eviction of ", o->host, ": ", s.ToString());
      continue;
    }
    ++evictions_;
    evicted.push_back(std::move(*o));
  }
  return evicted;
}

std::optional<OverdueHost> SingletonDuties::Recheck(const std::string& host) {
  auto hosts = hooks_.hosts();
  if (!hosts.ok()) {
    // Not known to be overdue now: the next sweep decides.
    log::Warning("singleton duties: ", hosts.status().ToString());
    return std::nullopt;
  }
  std::vector<MemberInterval> members;
  for (MemberInterval& m : hooks_.members()) {
    if (m.host == host) members.push_back(std::move(m));
  }
  auto again = OverdueHosts(members, *hosts, hooks_.now_unix_ms(),
                            *duty_since_, options_.grace);
  if (again.empty()) return std::nullopt;
  return std::move(again.front());
}

}  // namespace tvd::master
