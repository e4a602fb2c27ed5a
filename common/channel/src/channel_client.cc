#include "tvd/channel/channel_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace tvd::channel {

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

StatusOr<int> ConnectTcp(const std::string& host, std::uint16_t port,
                         std::chrono::milliseconds timeout) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    len = sizeof *in4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof *in6;
  } else {
    return InvalidArgument("'" + host + "' is not a numeric IP address");
  }
  int fd =
      ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoError("cannot create socket", errno);
  std::string where = host + ":" + std::to_string(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      int err = errno;
      ::close(fd);
      return Unavailable("cannot connect to " + where + ": " +
                         std::strerror(err));
    }
    pollfd p{fd, POLLOUT, 0};
    int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (rc <= 0) {
      ::close(fd);
      return Unavailable("cannot connect to " + where + ": timed out");
    }
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) {
      ::close(fd);
      return Unavailable("cannot connect to " + where + ": " +
                         std::strerror(soerr));
    }
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

StatusOr<ConnectionPtr> ConnectChannel(const std::string& host,
                                       std::uint16_t port,
                                       const TlsContext& ctx,
                                       const ClientOptions& options) {
  if (ctx.side() != TlsSide::kClient) {
    return InvalidArgument("ConnectChannel needs a client TLS context");
  }
  IgnoreSigpipeOnce();
  TVD_ASSIGN_OR_RETURN(int fd, ConnectTcp(host, port, options.connect_timeout));
  TVD_ASSIGN_OR_RETURN(
      ConnectionPtr conn,
      Connection::Handshake(fd, ctx.get(), /*is_server=*/false,
                            options.connect_timeout, options.max_payload));
  if (options.expected_peer && conn->peer() != *options.expected_peer) {
    Status refused =
        Unauthenticated("server is " + conn->peer().ToString() + ", expected " +
                        options.expected_peer->ToString());
    conn->SendErrorAndClose(refused);
    return refused;
  }
  return conn;
}

}  // namespace tvd::channel
