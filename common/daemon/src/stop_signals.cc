#include "tvd/daemon/stop_signals.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "tvd/log.h"

namespace tvd::daemon {

namespace {

sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

StatusOr<std::unique_ptr<StopSignals>> StopSignals::Install() {
  const sigset_t set = StopSet();
  if (int e = pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0) {
    return ErrnoError("cannot block SIGTERM and SIGINT", e);
  }
  if (::signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
    return ErrnoError("cannot ignore SIGPIPE", errno);
  }
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open a signalfd", errno);
  return std::unique_ptr<StopSignals>(new StopSignals(fd));
}

StopSignals::~StopSignals() { ::close(fd_); }

std::optional<int> StopSignals::Poll() {
  signalfd_siginfo info{};
  for (;;) {
    const ssize_t n = ::read(fd_, &info, sizeof(info));
    if (n == static_cast<ssize_t>(sizeof(info))) {
      return static_cast<int>(info.ssi_signo);
    }
    if (n < 0 && errno == EINTR) continue;
    return std::nullopt;  // EAGAIN: none pending
  }
}

int StopSignals::Wait() {
  for (;;) {
    if (std::optional<int> sig = Poll()) return *sig;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, -1);
  }
}

Status RunUntilStopSignal(StopSignals& signals,
                          const std::function<Status()>& run,
                          const std::function<void()>& request_stop) {
  const int done = ::eventfd(0, EFD_CLOEXEC);
  if (done < 0) return ErrnoError("cannot create an eventfd", errno);
  std::thread watcher([&] {
    for (;;) {
      pollfd p[2] = {{signals.fd(), POLLIN, 0}, {done, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
      if (p[1].revents != 0) return;  // `run` returned by itself
      if (std::optional<int> sig = signals.Poll()) {
        log::Info("signal ", *sig, ": stopping");
        request_stop();
        return;
      }
    }
  });
  Status s = run();
  const std::uint64_t one = 1;
  while (::write(done, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  watcher.join();
  ::close(done);
  return s;
}

}  // namespace tvd::daemon
