// A connected UNIX (or TCP) stream socket with deadlines, shared by the OVSDB
// and OpenFlow clients (both talk to Open vSwitch over local sockets).
//
// Not thread-safe; one owner at a time. Writes never raise SIGPIPE: a peer
// that went away is reported as Unavailable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::vswitch {

using Clock = std::chrono::steady_clock;

class UnixStream {
 public:
  // Connects to the socket at `path`. Unavailable when nobody listens there
  // (or the path does not exist); InvalidArgument when the path is too long.
  static StatusOr<UnixStream> Connect(const std::string& path);
  // Connects over TCP to a numeric IPv4 or IPv6 `address` (no brackets),
  // e.g. a clustered ovsdb-server's remote. InvalidArgument for an address
  // that is not numeric; Unavailable when nobody answers, also "... timed
  // out" when the handshake does not complete within `timeout` (a server
  // whose packets are dropped would otherwise hold the caller for the
  // kernel's SYN retries, about two minutes, past any fail-over bound).
  static StatusOr<UnixStream> ConnectTcp(
      const std::string& address, std::uint16_t port,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  UnixStream() = default;
  ~UnixStream();
  UnixStream(UnixStream&& other) noexcept;
  UnixStream& operator=(UnixStream&& other) noexcept;
  UnixStream(const UnixStream&) = delete;
  UnixStream& operator=(const UnixStream&) = delete;

  bool is_open() const { return fd_ >= 0; }
  void Close();

  // Writes all of `data` before `deadline`. Unavailable when the peer closed,
  // Timeout when the deadline passed first.
  Status WriteAll(std::string_view data, Clock::time_point deadline);

  // Reads whatever is available (at most `max` bytes), waiting until
  // `deadline` for the first byte. Returns the bytes (never empty), Timeout,
  // or Unavailable when the peer closed the connection.
  StatusOr<std::string> ReadSome(Clock::time_point deadline,
                                 std::size_t max = 65536);

 private:
  explicit UnixStream(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace tvd::vswitch
