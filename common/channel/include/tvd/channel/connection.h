// One established trusted channel: a TLS 1.3 session whose peer presented a
// certificate from the VDC CA, carrying frames (frame.h).
//
// Every blocking call has a deadline; the socket is non-blocking underneath
// and waits happen in poll(), so a silent or slow peer costs a timeout, never
// a hung thread. A Connection is used by one thread at a time.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tvd/channel/frame.h"
#include "tvd/channel/plaintext_inbox.h"
#include "tvd/pki/identity.h"
#include "tvd/status.h"

namespace tvd::channel {

// Size of the channel-binding value quotes are bound to.
inline constexpr std::size_t kChannelBindingSize = 32;
using ChannelBinding = std::array<std::uint8_t, kChannelBindingSize>;

// The TLS exporter label of the channel binding.
inline constexpr char kChannelBindingLabel[] = "EXPORTER-Channel-Binding";

class Connection {
 public:
  // Performs the TLS handshake on the connected socket `fd` (taken over:
  // closed by the Connection or on failure) within `timeout`. Failures:
  // Timeout ("TLS handshake timed out after N ms"), Unauthenticated
  // ("peer certificate rejected: <OpenSSL verify reason>" or "TLS handshake
  // failed: <OpenSSL reason>", or a subject that is no identity).
  static StatusOr<std::unique_ptr<Connection>> Handshake(
      int fd, SSL_CTX* ctx, bool is_server, std::chrono::milliseconds timeout,
      std::size_t max_payload);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one frame within `timeout`. Unavailable when the peer is gone.
  Status WriteFrame(MessageType type, std::span<const std::uint8_t> payload,
                    std::chrono::milliseconds timeout);

  // Sends `bytes` as they are, for tests and diagnostics that must speak a
  // broken protocol inside a valid TLS session.
  Status WriteRaw(std::span<const std::uint8_t> bytes,
                  std::chrono::milliseconds timeout);

  // Receives one frame within `timeout`. A frame that does not decode is
  // answered with a kError frame and the connection is closed; the returned
  // ProtocolError says what was wrong. Timeout: "no complete frame within N
  // ms". Unavailable: peer closed. kError frames are returned as frames.
  StatusOr<Frame> ReadFrame(std::chrono::milliseconds timeout);

  // ReadFrame, then: a kError frame becomes its Status prefixed with "peer:",
  // another type than `expected` is a ProtocolError (and is answered with an
  // error frame).
  StatusOr<Frame> ReadExpected(MessageType expected,
                               std::chrono::milliseconds timeout);

  // Best effort: sends `status` as a kError frame, then closes.
  void SendErrorAndClose(const Status& status);

  // Waits up to `duration` for the peer to say something (or hang up).
  // Returns true when data or EOF arrived (the caller should read), false when
  // the time passed quietly. Used to sleep between re-attestations while
  // still noticing a closed or chatty peer.
  bool WaitReadable(std::chrono::milliseconds duration);

  enum class Wake { kReadable, kWoken, kQuiet };
  // WaitReadable that also returns kWoken as soon as `wake_fd` (an eventfd
  // or the read end of a pipe, drained by the caller) is readable, so a
  // thread that sleeps on its peer can be handed work without polling. Data
  // from the peer wins over a wakeup; kQuiet when the time passed.
  Wake WaitReadableOrWoken(std::chrono::milliseconds duration, int wake_fd);

  // For event loops that hold many idle channels on a few threads (the
  // socket is non-blocking underneath).
  //
  // Writes `bytes` without waiting: kDone once all of it is with the
  // kernel; kWantWrite / kWantRead when the socket must become writable /
  // readable first, after which the caller calls again with the very same
  // bytes (same address and length: TLS may hold part of them) until
  // kDone. Unavailable "cannot send frame: <reason>" when the peer is gone
  // (the connection is then closed); Unavailable "channel is closed".
  enum class Progress { kDone, kWantRead, kWantWrite };
  StatusOr<Progress> WriteNonBlocking(std::span<const std::uint8_t> bytes);
  // True when input the peer sent is already read from the socket (TLS
  // buffer or a partial frame), so waiting on the socket would miss it.
  bool HasBufferedInput() const;
  // The socket (for registering with epoll; do not read, write or close
  // it), -1 once closed.
  int fd() const { return fd_; }

  // Moves this channel, with its TLS session, peer, binding and id, into a
  // new Connection and leaves this one closed without a word to the peer:
  // later calls on this one fail with Unavailable and Close() does
  // nothing. For a handler that keeps serving the channel after it
  // returns to the server's thread (the server then closes nothing).
  std::unique_ptr<Connection> TakeOver();
  // True once TakeOver() moved this channel away.
  bool taken_over() const { return taken_over_; }

  // Closes the TLS session and the socket; later calls fail with Unavailable.
  void Close();
  bool closed() const { return fd_ < 0; }

  // The authenticated peer (from its certificate subject).
  const pki::Identity& peer() const { return peer_; }
  // "address:port" of the peer as seen on the socket.
  const std::string& peer_address() const { return peer_address_; }
  // "address:port" of our end.
  const std::string& local_address() const { return local_address_; }
  // TLS exporter, label kChannelBindingLabel, empty context, 32 bytes. Both
  // ends compute the same value only within this very TLS session.
  const ChannelBinding& channel_binding() const { return binding_; }
  std::size_t max_payload() const { return max_payload_; }
  // Unique within the process (a counter), for binding state such as
  // nonces to this connection.
  std::uint64_t id() const { return id_; }

 private:
  Connection(int fd, SSL* ssl, std::size_t max_payload);
  // Waits until the socket is readable/writable as OpenSSL asked, or the
  // deadline passes.
  Status WaitFor(int ssl_error, std::chrono::steady_clock::time_point deadline,
                 const std::string& timeout_message);
  // ReadFrame for a frame larger than one TLS record whose header (and
  // perhaps more) is in the inbox: read straight into its payload.
  StatusOr<Frame> ReadLargeFrame(MessageType type, std::size_t payload_size,
                                 std::chrono::steady_clock::time_point deadline,
                                 const std::string& timeout_message);
  // At least one byte into `into` by `deadline`: how many. On failure the
  // connection is closed (after an error frame when the time ran out).
  StatusOr<std::size_t> ReadSome(std::span<std::uint8_t> into,
                                 std::chrono::steady_clock::time_point deadline,
                                 const std::string& timeout_message);
  // Writes all of `bytes` by `deadline` (WriteRaw's loop; `timeout` names
  // the limit in the error).
  Status WriteUntil(std::span<const std::uint8_t> bytes,
                    std::chrono::steady_clock::time_point deadline,
                    std::chrono::milliseconds timeout);

  int fd_;
  SSL* ssl_;
  std::uint64_t id_;
  bool established_ = false;  // handshake completed and peer verified
  bool tls_failed_ = false;   // a fatal TLS error: no close_notify then
  bool taken_over_ = false;   // TakeOver() moved the channel away
  std::size_t max_payload_;
  pki::Identity peer_;
  std::string peer_address_;
  std::string local_address_;
  ChannelBinding binding_{};
  PlaintextInbox inbox_;  // decrypted, not yet framed (wiped as it goes)
};

using ConnectionPtr = std::unique_ptr<Connection>;

// "a.b.c.d:port" of the remote end of `fd`, or "unknown".
std::string PeerAddressOf(int fd);
// "a.b.c.d:port" of the local end of `fd`, or "unknown".
std::string LocalAddressOf(int fd);

}  // namespace tvd::channel
