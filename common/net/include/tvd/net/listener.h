// A bound, listening stream socket: TCP on a numeric IPv4/IPv6 address and
// port, or a UNIX socket at a path with a given mode. AcceptServer
// (accept_server.h) serves connections from one.
//
// The descriptor is close-on-exec and non-blocking (so an accept after a
// peer gave up returns EAGAIN instead of hanging); accepted sockets do not
// inherit O_NONBLOCK. A Listener owns its descriptor and, for UNIX sockets,
// the socket file: both go when it is destroyed (the file only if it is
// still the one this Listener bound, so a successor's socket survives).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tvd/status.h"

namespace tvd::net {

class Listener {
 public:
  // Listens on `address` (numeric: "127.0.0.1", "::1"; no names, so no
  // resolver is consulted) and `port`; port 0 lets the kernel pick a free
  // one, which port() then reports. SO_REUSEADDR is set (a restarted daemon
  // rebinds while old connections linger in TIME_WAIT). Errors:
  //   InvalidArgument "listen address 'X' is not a numeric IPv4 or IPv6
  //     address"
  //   IoError "bind 127.0.0.1:4433: Address already in use" (the errno text
  //     of bind; "listen ..." and "socket: ..." likewise)
  static StatusOr<Listener> Tcp(const std::string& address, std::uint16_t port,
                                int backlog = 128);

  // Listens on a UNIX socket at `path` whose file has mode `mode` (e.g.
  // 0660) before anyone can connect: the mode is set between bind and
  // listen, and until listen a connect is refused. A stale socket file at
  // `path` (connecting to it is refused) is replaced. Errors:
  //   InvalidArgument "unix socket path '...' is longer than 107 bytes",
  //     "unix socket path is empty"
  //   AlreadyExists "unix socket PATH: another server is listening there"
  //   FailedPrecondition "unix socket PATH: exists and is not a socket"
  //   IoError "bind PATH: ..." / "chmod PATH: ..." / "listen PATH: ..." /
  //     "connect PATH: ..." (an existing socket that could not be probed)
  static StatusOr<Listener> Unix(const std::string& path, mode_t mode,
                                 int backlog = 16);

  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();  // Close()

  int fd() const { return fd_; }
  // The bound TCP port (the kernel's choice for port 0); 0 for UNIX.
  std::uint16_t port() const { return port_; }
  // "127.0.0.1:4433", "[::1]:8480" or the socket path, for log lines.
  const std::string& description() const { return description_; }

  // Closes the descriptor (new connections are refused from then on) and
  // removes a UNIX socket file this Listener bound. Idempotent.
  void Close();

 private:
  Listener() = default;

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string description_;
  // UNIX only: the file this Listener bound, identified by device and inode.
  std::string unix_path_;
  dev_t unix_dev_ = 0;
  ino_t unix_ino_ = 0;
};

// Whether the numeric `address` is a loopback one (127.0.0.0/8, ::1,
// ::ffff:127.0.0.0/104). The InvalidArgument of Listener::Tcp for an address
// that is not numeric.
StatusOr<bool> IsLoopbackAddress(const std::string& address);

}  // namespace tvd::net
