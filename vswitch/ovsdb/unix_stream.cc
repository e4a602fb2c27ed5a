#include "tvd/vswitch/ovsdb/unix_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tvd::vswitch {
namespace {

int MillisUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

// Waits for `events` on fd until the deadline. OK when ready.
Status WaitFor(int fd, short events, Clock::time_point deadline,
               const char* what) {
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, MillisUntil(deadline));
    if (n > 0) return Status::Ok();
    if (n == 0) return Timeout(std::string("timed out waiting to ") + what);
    if (errno != EINTR) return ErrnoError("poll", errno);
  }
}

}  // namespace

StatusOr<UnixStream> UnixStream::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("socket path too long (" +
                           std::to_string(path.size()) + " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  UnixStream stream(fd);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    int err = errno;
    return Unavailable("cannot connect to " + path + ": " + std::strerror(err));
  }
  return stream;
}

StatusOr<UnixStream> UnixStream::ConnectTcp(const std::string& address,
                                            std::uint16_t port,
                                            std::chrono::milliseconds timeout) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(*v6);
  } else {
    return InvalidArgument("'" + address + "' is not a numeric IP address");
  }
  // Non-blocking for the handshake only, so that it is bounded by `timeout`;
  // the stream's reads and writes poll with their own deadlines on a
  // blocking descriptor, as for UNIX sockets.
  int fd =
      ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  UnixStream stream(fd);
  auto refused = [&](const std::string& why) {
    return Unavailable("cannot connect to " + address + " port " +
                       std::to_string(port) + ": " + why);
  };
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) return refused(std::strerror(errno));
    Clock::time_point deadline = Clock::now() + timeout;
    while (true) {
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, MillisUntil(deadline));
      if (n > 0) break;
      if (n == 0) return refused("timed out");
      if (errno != EINTR) return ErrnoError("poll", errno);
    }
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
      return ErrnoError("getsockopt SO_ERROR", errno);
    }
    if (err != 0) return refused(std::strerror(err));
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return ErrnoError("fcntl", errno);
  }
  return stream;
}

UnixStream::~UnixStream() { Close(); }

UnixStream::UnixStream(UnixStream&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

UnixStream& UnixStream::operator=(UnixStream&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void UnixStream::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status UnixStream::WriteAll(std::string_view data, Clock::time_point deadline) {
  if (fd_ < 0) return Unavailable("connection is closed");
  while (!data.empty()) {
    ssize_t n =
        ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      TVD_RETURN_IF_ERROR(WaitFor(fd_, POLLOUT, deadline, "write"));
      continue;
    }
    int err = errno;
    if (err == EPIPE || err == ECONNRESET) {
      return Unavailable("peer closed the connection");
    }
    return ErrnoError("send", err);
  }
  return Status::Ok();
}

StatusOr<std::string> UnixStream::ReadSome(Clock::time_point deadline,
                                           std::size_t max) {
  if (fd_ < 0) return Unavailable("connection is closed");
  std::string buf(max, '\0');
  while (true) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (n == 0) return Unavailable("peer closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      TVD_RETURN_IF_ERROR(WaitFor(fd_, POLLIN, deadline, "read"));
      continue;
    }
    int err = errno;
    if (err == ECONNRESET) return Unavailable("peer reset the connection");
    return ErrnoError("recv", err);
  }
}

}  // namespace tvd::vswitch
