#include "tvd/net/accept_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "tvd/log.h"

namespace tvd::net {

namespace {

// After accept() failed for lack of descriptors or memory, the listening
// socket stays readable; accepting is paused this long (or until a
// connection ends, which frees one) instead of spinning on it.
constexpr int kPauseAfterExhaustionMs = 100;

bool IsResourceExhaustion(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

}  // namespace

StatusOr<std::unique_ptr<AcceptServer>> AcceptServer::Start(
    Listener listener, AcceptServerOptions options, ConnectionHandler handler) {
  if (!handler) {
    return InvalidArgument(options.name + ": no connection handler");
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return ErrnoError("eventfd", errno);
  std::unique_ptr<AcceptServer> server(new AcceptServer(
      std::move(listener), std::move(options), std::move(handler), wake));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

AcceptServer::AcceptServer(Listener listener, AcceptServerOptions options,
                           ConnectionHandler handler, int wake_fd)
    : listener_(std::move(listener)),
      port_(listener_.port()),
      options_(std::move(options)),
      handler_(std::move(handler)),
      wake_fd_(wake_fd) {}

AcceptServer::~AcceptServer() {
  Stop();
  ::close(wake_fd_);
}

std::size_t AcceptServer::active_connections() const {
  MutexLock lock(mu_);
  return active_;
}

std::size_t AcceptServer::unjoined_workers() const {
  MutexLock lock(mu_);
  return workers_.size();
}

void AcceptServer::Wake() {
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void AcceptServer::Stop() {
  MutexLock stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (acceptor_.joinable()) acceptor_.join();
  // The accept thread is gone: no worker is added any more.
  listener_.Close();
  std::list<Worker> all;
  {
    MutexLock lock(mu_);
    // A worker closes its socket under mu_ and marks it -1, so this never
    // reaches a descriptor number that was reused.
    for (Worker& w : workers_) {
      if (w.fd >= 0) ::shutdown(w.fd, SHUT_RDWR);
    }
    // The nodes (which the workers point at) keep their addresses.
    all.splice(all.end(), workers_);
  }
  for (Worker& w : all) w.thread.join();
}

void AcceptServer::ReapFinished() {
  std::list<Worker> finished;
  {
    MutexLock lock(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto next = std::next(it);
      if (it->done) finished.splice(finished.end(), workers_, it);
      it = next;
    }
  }
  // A done worker has left the handler and only returns now.
  for (Worker& w : finished) w.thread.join();
}

void AcceptServer::AcceptLoop() {
  bool paused = false;
  for (;;) {
    pollfd fds[2] = {{paused ? -1 : listener_.fd(), POLLIN, 0},
                     {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, paused ? kPauseAfterExhaustionMs : -1);
    paused = false;
    if (n < 0 && errno != EINTR) {
      log::Error(options_.name,
                 ": poll failed, no longer accepting: ", std::strerror(errno));
      return;
    }
    if (fds[1].revents & POLLIN) {
      std::uint64_t count;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    ReapFinished();
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (IsResourceExhaustion(errno)) {
        log::Warning(options_.name, ": cannot accept: ", std::strerror(errno));
        paused = true;
      }
      // Otherwise the peer gave up before the accept (ECONNABORTED,
      // EAGAIN): nothing to do.
      continue;
    }
    Admit(fd);
  }
}

void AcceptServer::Admit(int fd) {
  {
    MutexLock lock(mu_);
    if (options_.max_connections == 0 || active_ < options_.max_connections) {
      Worker& w = workers_.emplace_back();
      w.fd = fd;
      ++active_;
      try {
        w.thread = std::thread([this, &w] { Serve(&w); });
      } catch (const std::system_error& e) {
        log::Warning(options_.name, ": cannot start a thread: ", e.what());
        --active_;
        workers_.pop_back();
        ::close(fd);
      }
      return;
    }
  }
  if (options_.on_refused) options_.on_refused(fd);
  ::close(fd);
}

void AcceptServer::Serve(Worker* worker) {
  int fd;
  {
    MutexLock lock(mu_);
    fd = worker->fd;
  }
  handler_(fd);
  {
    MutexLock lock(mu_);
    ::close(worker->fd);
    worker->fd = -1;
    worker->done = true;
    --active_;
  }
  Wake();  // the accept thread joins this worker
}

}  // namespace tvd::net
