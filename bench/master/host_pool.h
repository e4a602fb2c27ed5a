// Creates many SimHosts on a few threads, each host's swtpm optionally
// inside a given network namespace (the host's own TPM must be reachable on
// that namespace's loopback, where the host's thread runs).
//
// A swtpm child is killed when the thread that started it exits, so the
// creating threads stay parked until the pool is destroyed; then each
// thread destroys its own hosts (closing the TPM from the namespace that
// reaches it, stopping each swtpm by PID) and ends.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim_host.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/status.h"
#include "tvd/testing/netns.h"

namespace tvd::bench {

using testing::EnterNetns;

class HostPool {
 public:
  HostPool() = default;
  ~HostPool();
  HostPool(const HostPool&) = delete;
  HostPool& operator=(const HostPool&) = delete;

  // Creates one host per name on `threads` threads; `netns` is empty or
  // names the namespace of each host. The first error, naming the host.
  Status Create(const std::vector<std::string>& names,
                const std::vector<std::string>& netns, int threads,
                const pki::KeyAndCertificate& ca, TpmUse use);

  std::vector<std::unique_ptr<SimHost>>& hosts() { return hosts_; }

 private:
  std::vector<std::unique_ptr<SimHost>> hosts_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;  // mu_
};

}  // namespace tvd::bench
