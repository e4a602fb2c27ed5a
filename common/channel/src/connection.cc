#include "tvd/channel/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "tvd/channel/tls_context.h"

namespace tvd::channel {
namespace {

using Clock = std::chrono::steady_clock;

std::string AddressOf(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return "unknown";
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) +
           "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unknown";
}

std::uint64_t NextId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

long long Millis(std::chrono::milliseconds d) { return d.count(); }

// TLS's largest plaintext record.
constexpr std::size_t kOneRecord = 16384;

}  // namespace

std::string PeerAddressOf(int fd) { return AddressOf(fd, true); }
std::string LocalAddressOf(int fd) { return AddressOf(fd, false); }

Connection::Connection(int fd, SSL* ssl, std::size_t max_payload)
    : fd_(fd), ssl_(ssl), id_(NextId()), max_payload_(max_payload) {}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (ssl_ != nullptr) {
    if (established_ && !tls_failed_) {
      // Tell the peer we are done (close_notify), so it sees a clean end
      // rather than a truncated stream; we never wait for its answer.
      (void)SSL_shutdown(ssl_);
      ERR_clear_error();
    } else {
      SSL_set_quiet_shutdown(ssl_, 1);
    }
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  inbox_.Clear();
}

Status Connection::WaitFor(int ssl_error, Clock::time_point deadline,
                           const std::string& timeout_message) {
  short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return Timeout(timeout_message);
    pollfd p{fd_, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc > 0) return Status::Ok();
    if (rc < 0 && errno != EINTR) return ErrnoError("poll on channel", errno);
  }
}

StatusOr<std::unique_ptr<Connection>> Connection::Handshake(
    int fd, SSL_CTX* ctx, bool is_server, std::chrono::milliseconds timeout,
    std::size_t max_payload) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot make socket non-blocking", err);
  }
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) {
    ::close(fd);
    return Internal("cannot create TLS session");
  }
  std::unique_ptr<Connection> c(new Connection(fd, ssl, max_payload));
  c->peer_address_ = PeerAddressOf(fd);
  c->local_address_ = LocalAddressOf(fd);
  SSL_set_fd(ssl, fd);
  if (is_server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  auto deadline = Clock::now() + timeout;
  const std::string timeout_message = "TLS handshake timed out after " +
                                      std::to_string(Millis(timeout)) + " ms";
  while (true) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) break;
    int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      TVD_RETURN_IF_ERROR(c->WaitFor(err, deadline, timeout_message));
      continue;
    }
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return Unauthenticated(std::string("peer certificate rejected: ") +
                             X509_verify_cert_error_string(verify));
    }
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
      std::string reason = TakeOpenSslError("peer closed the connection");
      return Unauthenticated("TLS handshake failed: " + reason);
    }
    return Unauthenticated("TLS handshake failed: " +
                           TakeOpenSslError("unknown TLS error"));
  }
  if (SSL_version(ssl) != TLS1_3_VERSION) {
    return Unauthenticated(
        "TLS handshake failed: negotiated a version other "
        "than TLS 1.3");
  }
  X509* peer_cert = SSL_get0_peer_certificate(ssl);
  if (peer_cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return Unauthenticated(
        "peer certificate rejected: no verified certificate");
  }
  auto identity = pki::IdentityFromCertificate(peer_cert);
  if (!identity.ok()) {
    return Unauthenticated("peer certificate rejected: " +
                           identity.status().message());
  }
  c->peer_ = *identity;
  // In TLS 1.3 an absent and an empty exporter context are the same value
  // (RFC 8446 section 7.5); we pass an explicit empty context on both ends.
  static const unsigned char kEmptyContext[1] = {0};
  if (SSL_export_keying_material(
          ssl, c->binding_.data(), c->binding_.size(), kChannelBindingLabel,
          std::strlen(kChannelBindingLabel), kEmptyContext, 0, 1) != 1) {
    return Internal("cannot export TLS channel binding");
  }
  c->established_ = true;
  return c;
}

Status Connection::WriteFrame(MessageType type,
                              std::span<const std::uint8_t> payload,
                              std::chrono::milliseconds timeout) {
  // The frame is never copied to the heap: a payload may carry a key (a
  // JoinGrant), which a heap copy would leave in freed memory, and a
  // JoinGrant of 10,000 members would cost a fresh mapping of hundreds of
  // KB, faulted in page by page, on every join. A frame that fits one TLS
  // record is put together on the stack (one record, wiped after); a larger
  // one is written as its header and then its payload.
  const auto header = EncodeFrameHeader(type, payload.size());
  if (kFrameHeaderSize + payload.size() <= kOneRecord) {
    std::array<std::uint8_t, kOneRecord> frame;
    std::memcpy(frame.data(), header.data(), header.size());
    if (!payload.empty()) {
      std::memcpy(frame.data() + kFrameHeaderSize, payload.data(),
                  payload.size());
    }
    const std::size_t size = kFrameHeaderSize + payload.size();
    Status written = WriteRaw({frame.data(), size}, timeout);
    OPENSSL_cleanse(frame.data(), size);
    return written;
  }
  const auto deadline = Clock::now() + timeout;
  TVD_RETURN_IF_ERROR(WriteUntil(header, deadline, timeout));
  return WriteUntil(payload, deadline, timeout);
}

Status Connection::WriteRaw(std::span<const std::uint8_t> bytes,
                            std::chrono::milliseconds timeout) {
  return WriteUntil(bytes, Clock::now() + timeout, timeout);
}

Status Connection::WriteUntil(std::span<const std::uint8_t> bytes,
                              Clock::time_point deadline,
                              std::chrono::milliseconds timeout) {
  if (closed()) return Unavailable("channel is closed");
  std::size_t done = 0;
  while (done < bytes.size()) {
    ERR_clear_error();
    std::size_t written = 0;
    int rc =
        SSL_write_ex(ssl_, bytes.data() + done, bytes.size() - done, &written);
    if (rc == 1) {
      done += written;
      continue;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      TVD_RETURN_IF_ERROR(WaitFor(err, deadline,
                                  "could not send frame within " +
                                      std::to_string(Millis(timeout)) + " ms"));
      continue;
    }
    std::string reason = TakeOpenSslError("peer closed the connection");
    tls_failed_ = true;
    Close();
    return Unavailable("cannot send frame: " + reason);
  }
  return Status::Ok();
}

StatusOr<Connection::Progress> Connection::WriteNonBlocking(
    std::span<const std::uint8_t> bytes) {
  if (closed()) return Unavailable("channel is closed");
  if (bytes.empty()) return Progress::kDone;
  ERR_clear_error();
  std::size_t written = 0;
  // Without SSL_MODE_ENABLE_PARTIAL_WRITE a success means all of it.
  int rc = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written);
  if (rc == 1) return Progress::kDone;
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_WRITE) return Progress::kWantWrite;
  if (err == SSL_ERROR_WANT_READ) return Progress::kWantRead;
  std::string reason = TakeOpenSslError("peer closed the connection");
  tls_failed_ = true;
  Close();
  return Unavailable("cannot send frame: " + reason);
}

bool Connection::HasBufferedInput() const {
  return !closed() && (!inbox_.empty() || SSL_pending(ssl_) > 0);
}

std::unique_ptr<Connection> Connection::TakeOver() {
  std::unique_ptr<Connection> c(new Connection(fd_, ssl_, max_payload_));
  c->id_ = id_;
  c->established_ = established_;
  c->tls_failed_ = tls_failed_;
  c->peer_ = peer_;
  c->peer_address_ = peer_address_;
  c->local_address_ = local_address_;
  c->binding_ = binding_;
  c->inbox_ = std::move(inbox_);
  fd_ = -1;
  ssl_ = nullptr;
  taken_over_ = true;
  return c;
}

StatusOr<Frame> Connection::ReadFrame(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  const std::string timeout_message =
      "no complete frame within " + std::to_string(Millis(timeout)) + " ms";
  while (true) {
    if (closed()) return Unavailable("channel is closed");
    DecodeResult r = DecodeFrame(inbox_.view(), max_payload_);
    if (r.kind == DecodeResult::Kind::kFrame) {
      inbox_.Consume(r.consumed);
      return std::move(r.frame);
    }
    if (r.kind == DecodeResult::Kind::kError) {
      SendErrorAndClose(r.error);
      return r.error;
    }
    if (r.frame_size > kOneRecord) {
      return ReadLargeFrame(r.frame.type, r.frame_size - kFrameHeaderSize,
                            deadline, timeout_message);
    }
    std::uint8_t buf[kOneRecord];
    TVD_ASSIGN_OR_RETURN(std::size_t got,
                         ReadSome(buf, deadline, timeout_message));
    inbox_.Append({buf, got});
    OPENSSL_cleanse(buf, got);
  }
}

StatusOr<Frame> Connection::ReadLargeFrame(MessageType type,
                                           std::size_t payload_size,
                                           Clock::time_point deadline,
                                           const std::string& timeout_message) {
  // Read straight into the payload: through the inbox, a frame of hundreds
  // of KB (a JoinGrant of thousands of members) would be copied twice
  // more, into an inbox grown several times (each old buffer freed, its
  // pages faulted in anew) and kept that large for the channel's life.
  Frame frame;
  frame.type = type;
  // Reserved, not filled: the pages are touched as the bytes arrive, so a
  // peer that announces a frame and sends nothing costs address space only.
  frame.payload.reserve(payload_size);
  std::span<const std::uint8_t> held = inbox_.view().subspan(kFrameHeaderSize);
  frame.payload.assign(held.begin(), held.end());
  std::size_t have = held.size();
  inbox_.Consume(inbox_.size());
  while (have < payload_size) {
    // Grown (and zero-filled) a few records ahead of what arrived, so each
    // byte is filled once.
    if (frame.payload.size() == have) {
      frame.payload.resize(std::min(payload_size, have + 4 * kOneRecord));
    }
    auto got =
        ReadSome({frame.payload.data() + have, frame.payload.size() - have},
                 deadline, timeout_message);
    if (!got.ok()) {
      OPENSSL_cleanse(frame.payload.data(), have);
      return got.status();
    }
    have += *got;
  }
  return frame;
}

StatusOr<std::size_t> Connection::ReadSome(std::span<std::uint8_t> into,
                                           Clock::time_point deadline,
                                           const std::string& timeout_message) {
  while (true) {
    std::size_t got = 0;
    ERR_clear_error();
    int rc = SSL_read_ex(ssl_, into.data(), into.size(), &got);
    if (rc == 1) return got;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      Status waited = WaitFor(err, deadline, timeout_message);
      if (!waited.ok()) {
        if (waited.code() == ErrorCode::kTimeout) SendErrorAndClose(waited);
        return waited;
      }
      continue;
    }
    long verify = SSL_get_verify_result(ssl_);
    std::string reason = err == SSL_ERROR_ZERO_RETURN
                             ? "peer closed the channel"
                             : TakeOpenSslError("peer closed the connection");
    tls_failed_ = err != SSL_ERROR_ZERO_RETURN;
    Close();
    if (verify != X509_V_OK) {
      return Unauthenticated(std::string("peer certificate rejected: ") +
                             X509_verify_cert_error_string(verify));
    }
    return Unavailable(reason);
  }
}

StatusOr<Frame> Connection::ReadExpected(MessageType expected,
                                         std::chrono::milliseconds timeout) {
  TVD_ASSIGN_OR_RETURN(Frame frame, ReadFrame(timeout));
  if (frame.type == MessageType::kError) {
    Status s = DecodeErrorPayload(frame.payload);
    return s.WithContext("peer");
  }
  if (frame.type != expected) {
    Status s = ProtocolError("unexpected message type " +
                             std::to_string(static_cast<int>(frame.type)) +
                             " (expected " +
                             std::to_string(static_cast<int>(expected)) + ")");
    SendErrorAndClose(s);
    return s;
  }
  return frame;
}

void Connection::SendErrorAndClose(const Status& status) {
  if (!closed()) {
    auto payload = EncodeErrorPayload(status);
    (void)WriteFrame(MessageType::kError, payload,
                     std::chrono::milliseconds(500));
  }
  Close();
}

bool Connection::WaitReadable(std::chrono::milliseconds duration) {
  if (closed()) return true;
  if (!inbox_.empty() || SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, static_cast<int>(duration.count()));
  return rc != 0;
}

Connection::Wake Connection::WaitReadableOrWoken(
    std::chrono::milliseconds duration, int wake_fd) {
  if (closed()) return Wake::kReadable;
  if (!inbox_.empty() || SSL_pending(ssl_) > 0) return Wake::kReadable;
  pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  int rc = ::poll(p, 2, static_cast<int>(duration.count()));
  if (rc < 0) return errno == EINTR ? Wake::kQuiet : Wake::kReadable;
  if (p[0].revents != 0) return Wake::kReadable;
  if (p[1].revents != 0) return Wake::kWoken;
  return Wake::kQuiet;
}

}  // namespace tvd::channel
