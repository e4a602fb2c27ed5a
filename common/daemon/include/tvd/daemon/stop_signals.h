// The one signal model of every daemon: SIGTERM and SIGINT ask it to stop
// cleanly; SIGPIPE is ignored (a peer that goes away is an error value on
// write, not a death). No daemon reloads on SIGHUP, so SIGHUP keeps its
// default.
//
// The stop signals are blocked before any thread starts, so every thread
// inherits the mask and no handler runs at an arbitrary point: they are
// taken only through this object, by Wait (a daemon that just serves), by
// Poll or by polling fd() (a daemon with its own event loop).
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "tvd/status.h"

namespace tvd::daemon {

class StopSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread, ignores SIGPIPE and
  // opens a signalfd for the two. Call it in main's thread before any other
  // thread exists. Errors: IoError from sigprocmask/signalfd.
  static StatusOr<std::unique_ptr<StopSignals>> Install();

  ~StopSignals();  // closes fd(); the signals stay blocked
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Readable (POLLIN) while a stop signal is pending.
  int fd() const { return fd_; }

  // Blocks until SIGTERM or SIGINT arrives; returns its number.
  int Wait();

  // The pending stop signal, taken, or nullopt at once when there is none.
  std::optional<int> Poll();

 private:
  explicit StopSignals(int fd) : fd_(fd) {}
  int fd_;
};

// For a daemon whose serving loop blocks in a function of its own
// (`run`, which returns when `request_stop` was called or on an error):
// runs `run` in this thread while a helper thread waits for a stop signal
// and then calls `request_stop` (from that helper thread). Returns what
// `run` returned; the helper thread is joined before returning.
Status RunUntilStopSignal(StopSignals& signals,
                          const std::function<Status()>& run,
                          const std::function<void()>& request_stop);

}  // namespace tvd::daemon
