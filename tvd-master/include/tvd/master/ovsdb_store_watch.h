// A replica's view of what other masters write: an OVSDB monitor on the
// store's TVD, Membership and Host tables (StoreMirror), on its own
// connection and thread, handing each change to `on_change`.
//
// Any server of the cluster will do, a follower included: the monitor
// sees the committed log in commit order, so changes arrive in the order
// the masters made them. When the server goes, the watch moves to the next
// remote and starts a new monitor, whose initial contents are handed on as
// one change naming every TVD (the registry ignores rows it made itself).
// A server that goes quiet instead (its packets dropped, or a follower
// that lost its cluster) is noticed within a second plus one call
// timeout: the watch reads the server's _Server row every second, with a
// deadline, and moves on when it gets no answer or the server is not
// connected to its cluster.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tvd/master/store_mirror.h"
#include "tvd/status.h"

namespace tvd::master {

class OvsdbStoreWatch {
 public:
  using Handler = std::function<void(const StoreChange&)>;

  // Starts watching; `remotes` as OvsdbStoreOptions::remotes. Returns once
  // the first monitor's initial contents were handed on, or Unavailable
  // "no OVSDB server of R1, R2 answered a monitor within N ms (why)".
  static StatusOr<std::unique_ptr<OvsdbStoreWatch>> Start(
      std::vector<std::string> remotes, Handler on_change,
      std::chrono::milliseconds first_timeout = std::chrono::seconds(20));
  ~OvsdbStoreWatch();
  OvsdbStoreWatch(const OvsdbStoreWatch&) = delete;
  OvsdbStoreWatch& operator=(const OvsdbStoreWatch&) = delete;

  // Monitors started (1 + how often the watch moved or started over).
  std::uint64_t monitors() const { return monitors_.load(); }

 private:
  OvsdbStoreWatch(std::vector<std::string> remotes, Handler on_change);
  void Run();

  const std::vector<std::string> remotes_;
  const Handler on_change_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> monitors_{0};
  std::atomic<bool> first_done_{false};
  std::string last_error_;  // written by the thread before first_done_
  std::thread thread_;
};

}  // namespace tvd::master
