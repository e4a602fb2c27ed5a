#include "host_pool.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>

namespace tvd::bench {

Status HostPool::Create(const std::vector<std::string>& names,
                        const std::vector<std::string>& netns, int threads,
                        const pki::KeyAndCertificate& ca, TpmUse use) {
  const int count = static_cast<int>(names.size());
  hosts_.resize(count);
  std::atomic<int> next{0};
  Status first;
  int started = 0;
  int ready = 0;
  auto fail = [&](const Status& s, int i) {
    std::lock_guard l(mu_);
    if (first.ok()) first = s.WithContext("host " + names[i]);
  };
  for (int t = 0; t < threads; ++t) {
    workers_.emplace_back([&, this, netns] {
      // First every swtpm process (no TPM command runs meanwhile), then,
      // once all threads are past that, the TPM commands.
      std::vector<int> mine;
      for (int i = next++; i < count; i = next++) {
        mine.push_back(i);
        Status s = netns.empty() ? Status::Ok() : EnterNetns(netns[i]);
        auto h = s.ok() ? SimHost::Start(names[i], ca, use)
                        : StatusOr<std::unique_ptr<SimHost>>(s);
        if (h.ok()) {
          hosts_[i] = std::move(*h);
        } else {
          fail(h.status(), i);
        }
      }
      {
        std::unique_lock l(mu_);
        ++started;
        cv_.notify_all();
        cv_.wait(l, [&] { return started == threads; });
      }
      for (int i : mine) {
        if (!hosts_[i]) continue;
        Status s = netns.empty() ? Status::Ok() : EnterNetns(netns[i]);
        if (s.ok()) s = hosts_[i]->OpenTpm();
        if (!s.ok()) fail(s, i);
      }
      std::unique_lock l(mu_);
      ++ready;
      cv_.notify_all();
      cv_.wait(l, [this] { return released_; });
      l.unlock();
      // Destroyed here, in the namespace whose loopback reaches its swtpm.
      for (int i : mine) {
        if (!netns.empty() && !EnterNetns(netns[i]).ok()) continue;
        hosts_[i].reset();
      }
    });
  }
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return ready == threads; });
  return first;
}

HostPool::~HostPool() {
  {
    std::lock_guard l(mu_);
    released_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

}  // namespace tvd::bench
