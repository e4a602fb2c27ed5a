#include "tvd/libvirt_filter/relay_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>

#include "tvd/channel/connection.h"
#include "tvd/libvirt_filter/session_filter.h"
#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::libvirt_filter {

namespace {

using Clock = std::chrono::steady_clock;

// Bytes read from one side before the loop turns to the other side and to
// the output buffers (keeps memory per connection bounded).
constexpr std::size_t kMaxBurst = 1 << 20;

// Unanswered calls per tenant before the relay stops reading from it.
constexpr std::size_t kMaxInFlight = 32;

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Bytes queued towards one side, sent in order.
struct OutBuffer {
  std::vector<std::uint8_t> bytes;
  std::size_t offset = 0;
  std::size_t size() const { return bytes.size() - offset; }
  void Append(const std::vector<std::uint8_t>& b) {
    if (offset > 0 && offset == bytes.size()) {
      bytes.clear();
      offset = 0;
    }
    bytes.insert(bytes.end(), b.begin(), b.end());
  }
  void Consume(std::size_t n) {
    offset += n;
    if (offset == bytes.size()) {
      bytes.clear();
      offset = 0;
    } else if (offset > (1u << 20)) {
      bytes.erase(bytes.begin(),
                  bytes.begin() + static_cast<std::ptrdiff_t>(offset));
      offset = 0;
    }
  }
};

// One tenant connection's I/O state.
class Session {
 public:
  explicit Session(SSL* ssl) : ssl_(ssl) {}

  // Reads what TLS has; appends whole packets to `packets`. False when the
  // tenant closed or TLS failed; `error` says why when it was not a clean
  // close.
  bool ReadClient(std::vector<Packet>& packets, Status& error) {
    std::uint8_t buf[16384];
    std::size_t burst = 0;
    while (burst < kMaxBurst) {
      ERR_clear_error();
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        burst += static_cast<std::size_t>(n);
        client_in_.Append({buf, static_cast<std::size_t>(n)});
        if (!Drain(client_in_, packets, error)) return false;
        // A short read with nothing decrypted left means the socket is
        // (very likely) empty: let poll() say when there is more, instead
        // of paying for a read that fails with EAGAIN.
        if (static_cast<std::size_t>(n) < sizeof(buf) &&
            SSL_pending(ssl_) == 0) {
          return true;
        }
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ) return true;
      if (err == SSL_ERROR_WANT_WRITE) {
        read_wants_write_ = true;
        return true;
      }
      if (err != SSL_ERROR_ZERO_RETURN) {
        error = Unavailable("TLS read failed: " +
                            channel::TakeOpenSslError("connection reset"));
      }
      return false;
    }
    return true;
  }

  bool ReadUpstream(std::vector<Packet>& packets, Status& error) {
    std::uint8_t buf[65536];
    std::size_t burst = 0;
    while (burst < kMaxBurst) {
      ssize_t n = ::recv(upstream_fd, buf, sizeof(buf), 0);
      if (n > 0) {
        burst += static_cast<std::size_t>(n);
        upstream_in_.Append({buf, static_cast<std::size_t>(n)});
        if (!Drain(upstream_in_, packets, error)) {
          error = error.WithContext("from libvirtd");
          return false;
        }
        if (static_cast<std::size_t>(n) < sizeof(buf)) return true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      error = Unavailable("libvirtd closed the connection");
      return false;
    }
    return true;
  }

  // Writes queued bytes to the tenant. False on a broken connection.
  bool WriteClient() {
    while (client_out.size() > 0) {
      ERR_clear_error();
      int chunk =
          static_cast<int>(std::min<std::size_t>(client_out.size(), 1u << 20));
      int n =
          SSL_write(ssl_, client_out.bytes.data() + client_out.offset, chunk);
      if (n > 0) {
        client_out.Consume(static_cast<std::size_t>(n));
        last_client_progress = Clock::now();
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      write_wants_read_ = err == SSL_ERROR_WANT_READ;
      return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ;
    }
    last_client_progress = Clock::now();
    return true;
  }

  bool WriteUpstream() {
    while (upstream_out.size() > 0) {
      ssize_t n =
          ::send(upstream_fd, upstream_out.bytes.data() + upstream_out.offset,
                 upstream_out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        upstream_out.Consume(static_cast<std::size_t>(n));
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EINTR);
    }
    return true;
  }

  bool client_partial() const { return client_in_.buffered() > 0; }
  bool SslPending() const { return SSL_pending(ssl_) > 0; }
  bool read_wants_write() const { return read_wants_write_; }
  bool write_wants_read() const { return write_wants_read_; }
  void clear_wants() {
    read_wants_write_ = false;
    write_wants_read_ = false;
  }

  int upstream_fd = -1;
  OutBuffer client_out;
  OutBuffer upstream_out;
  Clock::time_point last_client_progress = Clock::now();

 private:
  static bool Drain(PacketAssembler& in, std::vector<Packet>& packets,
                    Status& error) {
    while (true) {
      Packet p;
      StatusOr<bool> got = in.Next(p);
      if (!got.ok()) {
        error = got.status();
        return false;
      }
      if (!*got) return true;
      packets.push_back(std::move(p));
    }
  }

  SSL* ssl_;
  PacketAssembler client_in_;
  PacketAssembler upstream_in_;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
};

Status Handshake(int fd, SSL* ssl, std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    ERR_clear_error();
    int r = SSL_accept(ssl);
    if (r == 1) return Status::Ok();
    int err = SSL_get_error(ssl, r);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        return Unauthenticated(std::string("client certificate rejected: ") +
                               X509_verify_cert_error_string(verify));
      }
      return Unauthenticated("TLS handshake failed: " +
                             channel::TakeOpenSslError("connection closed"));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      return Timeout("TLS handshake timed out after " +
                     std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd, events, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

// Flushes what can be sent to the tenant within a short time (used before
// closing, so the tenant sees the error that caused the close).
void FlushBeforeClose(Session& s, int fd) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(1);
  while (s.client_out.size() > 0 && Clock::now() < deadline) {
    if (!s.WriteClient()) return;
    if (s.client_out.size() == 0) return;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
}

}  // namespace

std::string CertificateSubject(X509* cert) {
  std::string out;
  X509_NAME* name = X509_get_subject_name(cert);
  int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    const char* key = nid != NID_undef ? OBJ_nid2sn(nid) : "?";
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    std::string value;
    if (len > 0) value.assign(reinterpret_cast<char*>(utf8), len);
    OPENSSL_free(utf8);
    std::string escaped;
    for (char c : value) {
      if (c == ',' || c == '\\' || c == '/') escaped.push_back('\\');
      escaped.push_back(c);
    }
    if (!out.empty()) out += ",";
    out += std::string(key) + "=" + escaped;
  }
  return out;
}

RelayServer::RelayServer(const RelayOptions& options,
                         const OwnershipSource& ownership,
                         DiskImageChecker& disks)
    : options_(options),
      ownership_(ownership),
      disks_(disks),
      limits_(options.tenant_limits) {}

StatusOr<std::unique_ptr<RelayServer>> RelayServer::Start(
    const RelayOptions& options, const OwnershipSource& ownership,
    DiskImageChecker& disks, const channel::TlsCredentials& credentials) {
  // OpenSSL writes to sockets with write(2): a tenant that hangs up must
  // not kill the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<RelayServer> s(new RelayServer(options, ownership, disks));
  TVD_ASSIGN_OR_RETURN(s->tls_, channel::TlsContext::Create(
                                    channel::TlsSide::kServer, credentials));
  s->admin_ = std::make_unique<AdminConnection>(options.upstream_socket,
                                                options.upstream_uri);
  TVD_RETURN_IF_ERROR(s->admin_->Connect().WithContext(
      "libvirtd at " + options.upstream_socket));
  s->not_found_.Learn(*s->admin_);
  if (!options.proxy_run_dir.empty()) {
    s->claims_ = std::make_unique<ProxyUsageClaims>(options.proxy_run_dir);
  }
  s->quota_ = std::make_unique<QuotaGuard>(*s->admin_, s->admin_->cache(),
                                           s->disk_sizes_, s->claims_.get());

  TVD_ASSIGN_OR_RETURN(net::Listener listener,
                       net::Listener::Tcp(options.listen_address, options.port,
                                          /*backlog=*/64));
  net::AcceptServerOptions serve;
  serve.name = "relay";
  // No limit across tenants: each TVD has its own (TenantLimits), checked
  // once the tenant's certificate says who it is.
  serve.max_connections = 0;
  TVD_ASSIGN_OR_RETURN(
      s->server_,
      net::AcceptServer::Start(std::move(listener), std::move(serve),
                               [p = s.get()](int fd) { p->Serve(fd); }));
  s->reporter_ = std::thread([p = s.get()] { p->ReportLoop(); });
  log::Info("libvirt-filter listening on ", options.listen_address, ":",
            s->server_->port(), ", upstream ", options.upstream_socket, " (",
            options.upstream_uri, ")");
  return s;
}

RelayServer::~RelayServer() { Stop(); }

void RelayServer::Stop() {
  if (stopping_.exchange(true)) return;
  // Closes the listener, shuts every tenant connection down and joins its
  // thread.
  if (server_ != nullptr) server_->Stop();
  if (quota_ != nullptr) quota_->Wake();
  if (reporter_.joinable()) reporter_.join();
}

void RelayServer::ReportLoop() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point periodic = Clock::now() + options_.usage_report_interval;
  while (!stopping_) {
    std::vector<TenantScope> due =
        quota_->ReportsDue(periodic, ownership_.AllScopes());
    if (stopping_) break;
    if (Clock::now() >= periodic) {
      periodic = Clock::now() + options_.usage_report_interval;
    }
    for (const TenantScope& scope : due) {
      Status s = quota_->ReportUsage(scope);
      // Not joined on this host (no proxy) is the common case, not news.
      if (!s.ok()) {
        log::Info("relay: usage of TVD ", scope.tvd,
                  " not reported: ", s.ToString());
      }
    }
  }
}

void RelayServer::Serve(int fd) {
  SetNonBlocking(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (options_.socket_send_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options_.socket_send_buffer,
                 sizeof(options_.socket_send_buffer));
  }
  std::string peer = channel::PeerAddressOf(fd);
  SSL* ssl = SSL_new(tls_->get());
  if (ssl == nullptr) return;
  SSL_set_fd(ssl, fd);
  SSL_set_mode(
      ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  struct Cleanup {
    SSL* ssl;
    int upstream = -1;
    ~Cleanup() {
      SSL_free(ssl);
      if (upstream >= 0) ::close(upstream);
    }
  } cleanup{ssl};

  Status hs = Handshake(fd, ssl, options_.handshake_timeout);
  if (!hs.ok()) {
    log::Warning("relay: ", peer, ": ", hs.message());
    return;
  }
  X509* cert = SSL_get1_peer_certificate(ssl);
  std::string subject = cert != nullptr ? CertificateSubject(cert) : "";
  X509_free(cert);

  Session session(ssl);
  // libvirt clients wait for one byte 0x01 after the handshake: the
  // server's word that it accepted their certificate.
  session.client_out.Append({1});
  // Woken by TenantLimits when one of this TVD's call slots frees.
  // Declared before `slot`, so destroyed after it: the slot unregisters it
  // before the eventfd closes.
  struct EventWaker : Waker {
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ~EventWaker() override {
      if (fd >= 0) ::close(fd);
    }
    void Wake() override {
      std::uint64_t one = 1;
      (void)!::write(fd, &one, sizeof(one));
    }
  } waker;
  if (waker.fd < 0) {
    log::Warning("relay: ", peer, ": eventfd: ", std::strerror(errno));
    return;
  }
  StatusOr<TenantScope> scope = ownership_.ScopeForSubject(subject);
  Status refused;
  // The tenant's connection slot, held until this function returns.
  struct ConnectionSlot {
    TenantLimits& limits;
    std::string tvd;
    Waker* waker = nullptr;
    ~ConnectionSlot() {
      if (!tvd.empty()) limits.CloseConnection(tvd, waker);
    }
  } slot{limits_, "", &waker};
  if (!scope.ok()) {
    refused = scope.status();
  } else if (Status open = limits_.OpenConnection(scope->tvd); !open.ok()) {
    refused = open;
  } else {
    slot.tvd = scope->tvd;
    StatusOr<int> upstream = ConnectUnixSocket(options_.upstream_socket);
    if (!upstream.ok()) {
      refused = Unavailable("libvirtd is not reachable: " +
                            upstream.status().message());
    } else {
      session.upstream_fd = cleanup.upstream = *upstream;
      SetNonBlocking(session.upstream_fd);
    }
  }
  if (!refused.ok()) {
    // Answer the tenant's first call with the reason, so virsh prints it.
    log::Warning("relay: ", peer, " (", subject, "): ", refused.message());
    FlushBeforeClose(session, fd);
    Clock::time_point deadline = Clock::now() + options_.frame_timeout;
    std::vector<Packet> packets;
    Status error;
    while (packets.empty() && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 200);
      if (!session.ReadClient(packets, error)) return;
    }
    if (!packets.empty()) {
      // A tenant over its connection limit is told exactly that.
      const std::string why =
          refused.code() == ErrorCode::kResourceExhausted
              ? refused.message()
              : "the TVD relay refuses this client: " + refused.message();
      session.client_out.Append(
          ErrorReply(packets.front().header, DeniedError(why)));
      FlushBeforeClose(session, fd);
    }
    SSL_shutdown(ssl);
    return;
  }

  log::Info("relay: ", peer, " is tenant '", subject, "' of TVD ", scope->tvd);
  SessionFilter filter(*scope, admin_->cache(), *admin_, not_found_, disks_,
                       options_.upstream_uri, quota_.get());
  // Call slots this connection holds (== calls forwarded and unanswered).
  std::size_t slots_held = 0;
  auto release_answered = [&] {
    const std::size_t pending = filter.pending_calls();
    if (pending < slots_held) {
      limits_.CallsDone(scope->tvd, slots_held - pending);
    }
    slots_held = pending;
  };
  // How long the tenant's next call waits for its rate (0: not waiting).
  std::chrono::nanoseconds rate_wait{0};
  Status reason;
  // When the tenant's unfinished packet started (min(): none pending).
  Clock::time_point partial_since = Clock::time_point::min();
  // Calls read from the tenant but held back while it has many calls
  // unanswered (the way libvirtd stops reading a client with too many
  // requests in flight): backpressure, not an error.
  std::deque<Packet> held;
  while (!stopping_) {
    session.clear_wants();
    bool room = session.client_out.size() < options_.max_buffered &&
                session.upstream_out.size() < options_.max_buffered &&
                held.empty() && filter.pending_calls() < kMaxInFlight;
    pollfd fds[3];
    fds[0] = {fd, 0, 0};
    fds[1] = {session.upstream_fd, 0, 0};
    fds[2] = {waker.fd, POLLIN, 0};
    if (room) fds[0].events |= POLLIN;
    if (session.client_out.size() > 0) fds[0].events |= POLLOUT;
    if (session.client_out.size() < options_.max_buffered) {
      fds[1].events |= POLLIN;
    }
    if (session.upstream_out.size() > 0) fds[1].events |= POLLOUT;
    int wait_ms = 500;
    if (room && session.SslPending()) wait_ms = 0;
    if (!held.empty() && rate_wait.count() > 0) {
      wait_ms = static_cast<int>(std::min<std::int64_t>(
          wait_ms,
          std::chrono::ceil<std::chrono::milliseconds>(rate_wait).count()));
    }
    ::poll(fds, 3, wait_ms);
    if (fds[2].revents & POLLIN) {
      std::uint64_t count;
      (void)!::read(waker.fd, &count, sizeof(count));
    }

    std::vector<Packet> from_client;
    std::vector<Packet> from_upstream;
    Status error;
    bool alive = true;
    if (room && (fds[0].revents & (POLLIN | POLLHUP | POLLERR) ||
                 session.SslPending())) {
      alive = session.ReadClient(from_client, error);
    }
    if (alive && fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      alive = session.ReadUpstream(from_upstream, error);
    }
    FilterOutput out;
    for (Packet& p : from_upstream) {
      if (!out.close.ok()) break;
      filter.OnUpstreamPacket(std::move(p), out);
    }
    release_answered();
    for (Packet& p : from_client) held.push_back(std::move(p));
    rate_wait = std::chrono::nanoseconds(0);
    while (!held.empty() && out.close.ok() &&
           filter.pending_calls() < kMaxInFlight) {
      // The TVD's rate and calls in flight (tenant_limits.h): a call that
      // must wait stays in `held`, and this thread polls again.
      const bool call = held.front().header.program != kKeepaliveProgram;
      TenantLimits::Admission admission =
          limits_.Admit(scope->tvd, Clock::now(), call, &waker);
      if (!admission.admitted) {
        rate_wait = admission.retry_after;
        break;
      }
      slots_held += call ? 1 : 0;
      filter.OnClientPacket(std::move(held.front()), out);
      held.pop_front();
      release_answered();  // the call was answered by the relay itself
    }
    for (const auto& b : out.to_client) session.client_out.Append(b);
    for (const auto& b : out.to_upstream) session.upstream_out.Append(b);
    if (!out.close.ok()) {
      reason = out.close;
      break;
    }
    if (!alive) {
      reason = error;
      break;
    }
    if (!session.WriteUpstream()) {
      reason = Unavailable("libvirtd connection broke while sending");
      break;
    }
    if (!session.WriteClient()) {
      reason = Unavailable("tenant connection broke while sending");
      break;
    }
    Clock::time_point now = Clock::now();
    if (session.client_partial()) {
      if (partial_since == Clock::time_point::min()) partial_since = now;
      if (now - partial_since > options_.frame_timeout) {
        reason = ProtocolError("incomplete packet unfinished for " +
                               std::to_string(options_.frame_timeout.count()) +
                               " ms");
        break;
      }
    } else {
      partial_since = Clock::time_point::min();
    }
    if (session.client_out.size() > 0 &&
        now - session.last_client_progress > options_.write_timeout) {
      reason = Timeout("tenant did not read its replies for " +
                       std::to_string(options_.write_timeout.count()) + " ms");
      break;
    }
  }
  limits_.CallsDone(scope->tvd, slots_held);
  if (reason.code() == ErrorCode::kProtocol ||
      reason.code() == ErrorCode::kTimeout) {
    ++protocol_closes_;
    log::Warning("relay: closing ", peer, " (TVD ", scope->tvd,
                 "): ", reason.message());
    FlushBeforeClose(session, fd);
  } else if (!reason.ok()) {
    log::Info("relay: ", peer, " (TVD ", scope->tvd,
              ") closed: ", reason.message());
  }
  SSL_shutdown(ssl);
}

}  // namespace tvd::libvirt_filter
