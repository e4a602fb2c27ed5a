#include "tvd/master/store_fence.h"

#include "tvd/log.h"

namespace tvd::master {

StoreFence::StoreFence(StoreFenceHooks hooks, StoreFenceOptions options,
                       StoreGatePtr gate)
    : hooks_(std::move(hooks)),
      options_(options),
      gate_(std::move(gate)),
      lease_(options.bound, LeaseClock::now()) {}

std::unique_ptr<StoreFence> StoreFence::Start(StoreFenceHooks hooks,
                                              StoreFenceOptions options,
                                              StoreGatePtr gate) {
  std::unique_ptr<StoreFence> f(
      new StoreFence(std::move(hooks), options, std::move(gate)));
  f->prober_ = std::thread([self = f.get()] { self->Probe(); });
  f->watcher_ = std::thread([self = f.get()] { self->Watch(); });
  return f;
}

StoreFence::~StoreFence() { Stop(); }

void StoreFence::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (prober_.joinable()) prober_.join();
  if (watcher_.joinable()) watcher_.join();
}

bool StoreFence::serving() const {
  MutexLock lock(mu_);
  return lease_.serving();
}

std::uint64_t StoreFence::losses() const {
  MutexLock lock(mu_);
  return losses_;
}

std::uint64_t StoreFence::resumptions() const {
  MutexLock lock(mu_);
  return resumptions_;
}

bool StoreFence::Sleep(std::chrono::milliseconds d) {
  auto until = LeaseClock::now() + d;
  MutexLock lock(mu_);
  while (!stop_ && cv_.WaitUntil(mu_, until)) {
  }
  return !stop_;
}

void StoreFence::Probe() {
  // Four probes per bound: one lost probe (a leader election) does not
  // stop the master.
  const auto every = std::max(options_.bound / 4, std::chrono::milliseconds(1));
  while (true) {
    auto sent = LeaseClock::now();
    Status s = hooks_.probe();
    if (s.ok()) {
      MutexLock lock(mu_);
      lease_.Confirmed(sent);
    }
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        LeaseClock::now() - sent);
    if (!Sleep(spent < every ? every - spent : std::chrono::milliseconds(0))) {
      return;
    }
  }
}

void StoreFence::Watch() {
  while (Sleep(options_.tick)) {
    auto now = LeaseClock::now();
    StoreLease::Step step;
    std::chrono::milliseconds silence;
    {
      MutexLock lock(mu_);
      step = lease_.Tick(now);
      silence = lease_.Silence(now);
      if (step == StoreLease::Step::kLose) ++losses_;
    }
    if (step == StoreLease::Step::kLose) {
      std::string why =
          "master cut off from its store: no leader confirmed "
          "for " +
          std::to_string(silence.count()) + " ms (store_failover_ms " +
          std::to_string(options_.bound.count()) + ")";
      // The gate first: from here on no store call waits for the store.
      gate_->Close(why);
      log::Error(why, "; ending member channels, refusing requests");
      if (hooks_.lost) hooks_.lost(why);
    } else if (step == StoreLease::Step::kResume) {
      // The reload reads the store through the gate: open it for that,
      // while requests are still refused (the lease is not serving).
      gate_->Open();
      Status reloaded = hooks_.regained ? hooks_.regained() : Status::Ok();
      if (!reloaded.ok()) {
        gate_->Close(
            "master cut off from its store: reloading from it "
            "failed: " +
            reloaded.message());
        log::Warning("store reachable again, reload failed (retrying): ",
                     reloaded.ToString());
        continue;
      }
      MutexLock lock(mu_);
      lease_.Resumed();
      ++resumptions_;
      log::Info("store reachable again: view reloaded, serving");
    }
  }
}

}  // namespace tvd::master
