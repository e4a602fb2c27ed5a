#include "tvd/channel/channel_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tvd/channel/channel_client.h"
#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::channel {

StatusOr<std::unique_ptr<ChannelServer>> ChannelServer::Start(
    const ServerOptions& options, std::shared_ptr<const TlsContext> tls,
    ConnectionHandler handler, ConnectionObserver observer) {
  if (!tls || tls->side() != TlsSide::kServer) {
    return InvalidArgument("ChannelServer needs a server TLS context");
  }
  IgnoreSigpipeOnce();
  std::unique_ptr<ChannelServer> s(new ChannelServer);
  s->options_ = options;
  s->tls_ = std::move(tls);
  s->handler_ = std::move(handler);
  s->observer_ = std::move(observer);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (::inet_pton(AF_INET, options.bind_address.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("bind address '" + options.bind_address +
                           "' is not a numeric IPv4 address");
  }
  s->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return ErrnoError("cannot create socket", errno);
  int one = 1;
  ::setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  std::string where = options.bind_address + ":" + std::to_string(options.port);
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
      0) {
    return ErrnoError("cannot bind " + where, errno);
  }
  if (::listen(s->listen_fd_, 128) != 0) {
    return ErrnoError("cannot listen on " + where, errno);
  }
  socklen_t len = sizeof addr;
  ::getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  if (::pipe2(s->wake_pipe_, O_CLOEXEC) != 0) {
    return ErrnoError("cannot create pipe", errno);
  }
  s->acceptor_ = std::thread([raw = s.get()] { raw->AcceptLoop(); });
  return s;
}

ChannelServer::~ChannelServer() {
  Stop();
  for (int fd : {listen_fd_, wake_pipe_[0], wake_pipe_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void ChannelServer::Stop() {
  if (stopping_.exchange(true)) {
    if (acceptor_.joinable()) acceptor_.join();
    return;
  }
  if (wake_pipe_[1] >= 0) {
    char c = 0;
    (void)::write(wake_pipe_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  {
    MutexLock lock(mutex_);
    // Wakes every connection thread blocked in poll(); they see EOF.
    for (Worker& w : workers_) {
      if (w.fd >= 0) ::shutdown(w.fd, SHUT_RDWR);
    }
  }
  std::list<Worker> all;
  {
    MutexLock lock(mutex_);
    all.splice(all.begin(), workers_);
  }
  for (Worker& w : all) {
    if (w.thread.joinable()) w.thread.join();
  }
}

void ChannelServer::ReapFinished() {
  std::list<Worker> finished;
  {
    MutexLock lock(mutex_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto next = std::next(it);
      if (it->done) finished.splice(finished.end(), workers_, it);
      it = next;
    }
  }
  for (Worker& w : finished) w.thread.join();
}

void ChannelServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, 1000);
    ReapFinished();
    if (rc < 0 && errno != EINTR) {
      log::Error("channel server: poll failed: ", errno);
      return;
    }
    if (stopping_) return;
    if (rc <= 0 || !(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    MutexLock lock(mutex_);
    if (workers_.size() >= options_.max_connections) {
      std::string peer = PeerAddressOf(fd);
      ::close(fd);
      if (observer_) {
        observer_(
            {peer, std::nullopt,
             Unavailable("too many connections (limit " +
                         std::to_string(options_.max_connections) + ")")});
      }
      continue;
    }
    Worker& w = workers_.emplace_back();
    // A duplicate kept for Stop(): shutdown() on it reaches the same socket,
    // and its number cannot be reused while the connection closes its own.
    w.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    w.thread = std::thread([this, &w, fd] { Serve(&w, fd); });
  }
}

void ChannelServer::Serve(Worker* worker, int fd) {
  ConnectionReport report;
  report.peer_address = PeerAddressOf(fd);
  auto conn =
      Connection::Handshake(fd, tls_->get(), /*is_server=*/true,
                            options_.handshake_timeout, options_.max_payload);
  if (!conn.ok()) {
    report.status = conn.status();
  } else {
    report.peer = (*conn)->peer();
    report.status = handler_ ? handler_(**conn) : Status::Ok();
    if (!report.status.ok()) (*conn)->SendErrorAndClose(report.status);
    (*conn)->Close();
  }
  if (report.status.ok()) {
    log::Info("channel ", report.peer_address, " (",
              report.peer ? report.peer->ToString() : "?", ") done");
  } else {
    log::Warning("channel ", report.peer_address, " (",
                 report.peer ? report.peer->ToString() : "unauthenticated",
                 ") refused: ", report.status.ToString());
  }
  if (observer_) observer_(report);
  MutexLock lock(mutex_);
  if (worker->fd >= 0) ::close(worker->fd);
  worker->fd = -1;
  worker->done = true;
}

}  // namespace tvd::channel
