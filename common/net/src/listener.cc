#include "tvd/net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace tvd::net {

namespace {

struct TcpAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

StatusOr<TcpAddress> ParseTcpAddress(const std::string& address,
                                     std::uint16_t port) {
  TcpAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
  } else {
    return InvalidArgument("listen address '" + address +
                           "' is not a numeric IPv4 or IPv6 address");
  }
  return out;
}

std::string HostPort(const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// Closes `fd` on scope exit unless released (error paths of the factories).
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int Release() { return std::exchange(fd, -1); }
};

}  // namespace

StatusOr<bool> IsLoopbackAddress(const std::string& address) {
  TVD_ASSIGN_OR_RETURN(TcpAddress a, ParseTcpAddress(address, 0));
  if (a.storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.storage);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
  if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) &&
         v6->sin6_addr.s6_addr[12] == 127;
}

StatusOr<Listener> Listener::Tcp(const std::string& address, std::uint16_t port,
                                 int backlog) {
  TVD_ASSIGN_OR_RETURN(TcpAddress a, ParseTcpAddress(address, port));
  FdGuard fd{::socket(a.storage.ss_family,
                      SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (fd.fd < 0) return ErrnoError("socket", errno);
  int one = 1;
  ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const std::string where = HostPort(address, port);
  if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0) {
    return ErrnoError("bind " + where, errno);
  }
  if (::listen(fd.fd, backlog) != 0) {
    return ErrnoError("listen " + where, errno);
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&bound),
                    &bound_length) != 0) {
    return ErrnoError("getsockname " + where, errno);
  }
  Listener l;
  l.port_ = ntohs(bound.ss_family == AF_INET
                      ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                      : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  l.description_ = HostPort(address, l.port_);
  l.fd_ = fd.Release();
  return l;
}

StatusOr<Listener> Listener::Unix(const std::string& path, mode_t mode,
                                  int backlog) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return InvalidArgument("unix socket path is empty");
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("unix socket path '" + path + "' is longer than " +
                           std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return FailedPrecondition("unix socket " + path +
                                ": exists and is not a socket");
    }
    // A socket file nobody accepts on is left over from a server that is
    // gone; one that answers belongs to a live server and is kept.
    FdGuard probe{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (probe.fd < 0) return ErrnoError("socket", errno);
    if (::connect(probe.fd, sa, sizeof addr) == 0) {
      return AlreadyExists("unix socket " + path +
                           ": another server is listening there");
    }
    if (errno != ECONNREFUSED) return ErrnoError("connect " + path, errno);
    ::unlink(path.c_str());
  }

  FdGuard fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (fd.fd < 0) return ErrnoError("socket", errno);
  if (::bind(fd.fd, sa, sizeof addr) != 0) {
    return ErrnoError("bind " + path, errno);
  }
  // Until listen() below nobody can connect, so the file never serves with
  // the umask's mode.
  Listener l;
  l.unix_path_ = path;
  if (::lstat(path.c_str(), &st) == 0) {
    l.unix_dev_ = st.st_dev;
    l.unix_ino_ = st.st_ino;
  }
  l.fd_ = fd.Release();
  l.description_ = path;
  if (::chmod(path.c_str(), mode) != 0) {
    return ErrnoError("chmod " + path, errno);  // ~Listener unlinks
  }
  if (::listen(l.fd_, backlog) != 0) {
    return ErrnoError("listen " + path, errno);
  }
  return l;
}

Listener::Listener(Listener&& other) noexcept { *this = std::move(other); }

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
    description_ = std::move(other.description_);
    unix_path_ = std::exchange(other.unix_path_, "");
    unix_dev_ = other.unix_dev_;
    unix_ino_ = other.unix_ino_;
  }
  return *this;
}

Listener::~Listener() { Close(); }

void Listener::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!unix_path_.empty()) {
    struct stat st {};
    if (::lstat(unix_path_.c_str(), &st) == 0 && st.st_dev == unix_dev_ &&
        st.st_ino == unix_ino_) {
      ::unlink(unix_path_.c_str());
    }
    unix_path_.clear();
  }
}

}  // namespace tvd::net
