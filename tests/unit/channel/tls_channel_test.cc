// The trusted channel in-process over loopback: identities, the exporter,
// concurrency and timeouts. (Refusals end to end are in the attestation
// integration tests.)
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "issued_credentials.h"
#include "tvd/channel/channel_client.h"
#include "tvd/channel/channel_server.h"
#include "tvd/pki/certificate_authority.h"

namespace tvd::channel {
namespace {

using std::chrono::milliseconds;

using testing::IssuedCredentials;

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = pki::CreateCa("vdc", pki::Validity::ForDays(1));
    ASSERT_TRUE(ca.ok());
    ca_ = std::move(*ca);
    auto server_tls = TlsContext::Create(
        TlsSide::kServer, IssuedCredentials(ca_, pki::Role::kHost, "master"));
    ASSERT_TRUE(server_tls.ok());
    server_tls_ = std::move(*server_tls);
    auto client_tls = TlsContext::Create(
        TlsSide::kClient, IssuedCredentials(ca_, pki::Role::kAdmin, "alice"));
    ASSERT_TRUE(client_tls.ok());
    client_tls_ = std::move(*client_tls);
  }

  // The server's threads use the maps below: stop it before they go.
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // An echo server: every frame comes back; the exporter value it saw is
  // kept by connection for comparison.
  void StartEchoServer(ServerOptions options = {}) {
    auto server = ChannelServer::Start(
        options, server_tls_,
        [this](Connection& c) -> Status {
          {
            std::lock_guard lock(mutex_);
            server_bindings_[c.peer_address()] = c.channel_binding();
            peers_[c.peer_address()] = c.peer().ToString();
          }
          while (true) {
            auto f = c.ReadFrame(milliseconds(2000));
            if (!f.ok()) {
              return f.status().code() == ErrorCode::kUnavailable ? Status::Ok()
                                                                  : f.status();
            }
            TVD_RETURN_IF_ERROR(
                c.WriteFrame(f->type, f->payload, milliseconds(2000)));
          }
        },
        [this](const ConnectionReport& r) {
          std::lock_guard lock(mutex_);
          reports_[r.peer_address] = r.status;
          changed_.notify_all();
        });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  Status WaitReport(const std::string& address) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(5),
                      [&] { return reports_.count(address) != 0; });
    auto it = reports_.find(address);
    return it == reports_.end() ? Timeout("no report") : it->second;
  }

  pki::KeyAndCertificate ca_;
  std::shared_ptr<TlsContext> server_tls_;
  std::unique_ptr<TlsContext> client_tls_;
  ChannelServerPtr server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, ChannelBinding> server_bindings_;
  std::map<std::string, std::string> peers_;
  std::map<std::string, Status> reports_;
};

TEST_F(TlsChannelTest, MutualIdentitiesAndMatchingExporter) {
  StartEchoServer();
  auto a = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  auto b = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->peer().ToString(), "host:master");
  std::vector<std::uint8_t> payload = {1, 2, 3};
  ASSERT_EQ(
      (*a)->WriteFrame(MessageType::kAttestHello, payload, milliseconds(1000)),
      Status::Ok());
  auto echo = (*a)->ReadFrame(milliseconds(2000));
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(echo->payload, payload);
  ASSERT_TRUE(
      (*b)->WriteFrame(MessageType::kAttestHello, {}, milliseconds(1000)).ok());
  ASSERT_TRUE((*b)->ReadFrame(milliseconds(2000)).ok());
  std::lock_guard lock(mutex_);
  EXPECT_EQ(peers_[(*a)->local_address()], "admin:alice");
  // Both ends of one session agree; two sessions differ.
  EXPECT_EQ(server_bindings_[(*a)->local_address()], (*a)->channel_binding());
  EXPECT_EQ(server_bindings_[(*b)->local_address()], (*b)->channel_binding());
  EXPECT_NE((*a)->channel_binding(), (*b)->channel_binding());
}

// Frames larger than a TLS record are read straight into their payload;
// written back to back, each still ends where the next begins.
TEST_F(TlsChannelTest, FramesLargerThanARecordArriveWholeAndInOrder) {
  StartEchoServer();
  auto c = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto pattern = [](std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) {
      v[i] = static_cast<std::uint8_t>(seed + i * 7 + i / 251);
    }
    return v;
  };
  const std::vector<std::vector<std::uint8_t>> sent = {
      pattern(300000, 1), pattern(5, 2), pattern(40000, 3),
      pattern(16384 - kFrameHeaderSize, 4), pattern(16384, 5)};
  for (const auto& payload : sent) {
    ASSERT_EQ((*c)->WriteFrame(MessageType::kAttestEvidence, payload,
                               milliseconds(5000)),
              Status::Ok());
  }
  for (const auto& payload : sent) {
    auto echo = (*c)->ReadFrame(milliseconds(5000));
    ASSERT_TRUE(echo.ok()) << echo.status().ToString();
    EXPECT_EQ(echo->type, MessageType::kAttestEvidence);
    EXPECT_EQ(echo->payload, payload) << "payload of " << payload.size();
  }
}

TEST_F(TlsChannelTest, ALargeFrameThatStopsHalfwayTimesOut) {
  StartEchoServer();
  auto c = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // A header announcing 100,000 bytes, then 20,000 of them, then nothing.
  std::vector<std::uint8_t> part = EncodeFrame(
      MessageType::kAttestEvidence, std::vector<std::uint8_t>(100000, 9));
  part.resize(kFrameHeaderSize + 20000);
  ASSERT_EQ((*c)->WriteRaw(part, milliseconds(5000)), Status::Ok());
  EXPECT_EQ(WaitReport((*c)->local_address()),
            Timeout("no complete frame within 2000 ms"));
  // The server said why before it closed.
  auto told = (*c)->ReadFrame(milliseconds(5000));
  ASSERT_TRUE(told.ok()) << told.status().ToString();
  EXPECT_EQ(told->type, MessageType::kError);
}

TEST_F(TlsChannelTest,
       ATakenOverChannelOutlivesItsHandlerAndWritesWithoutBlocking) {
  ConnectionPtr taken;
  std::uint64_t id = 0;
  bool old_closed = false;
  auto server = ChannelServer::Start(
      {}, server_tls_,
      [&](Connection& c) -> Status {
        std::lock_guard lock(mutex_);
        id = c.id();
        taken = c.TakeOver();
        old_closed = c.closed();
        return Status::Ok();
      },
      [this](const ConnectionReport& r) {
        std::lock_guard lock(mutex_);
        reports_[r.peer_address] = r.status;
        changed_.notify_all();
      });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  server_ = std::move(*server);
  auto client = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  // The handler returned and the server closed nothing.
  EXPECT_EQ(WaitReport((*client)->local_address()), Status::Ok());
  std::lock_guard lock(mutex_);
  ASSERT_NE(taken, nullptr);
  EXPECT_TRUE(old_closed);
  EXPECT_EQ(taken->id(), id);
  EXPECT_EQ(taken->peer().ToString(), "admin:alice");
  EXPECT_EQ(taken->channel_binding(), (*client)->channel_binding());
  ASSERT_TRUE(
      (*client)
          ->WriteFrame(MessageType::kAttestHello, {{4, 5}}, milliseconds(1000))
          .ok());
  auto got = taken->ReadFrame(milliseconds(2000));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->payload, (std::vector<std::uint8_t>{4, 5}));

  // More than the socket buffers hold while the client reads nothing: a
  // write asks to wait instead of blocking, and finishes once it reads.
  std::vector<std::uint8_t> big(900 * 1024, 7);
  std::vector<std::uint8_t> frame =
      EncodeFrame(MessageType::kAttestEvidence, big);
  int frames = 0;
  StatusOr<Connection::Progress> p = Connection::Progress::kDone;
  while (frames < 200 && *p == Connection::Progress::kDone) {
    p = taken->WriteNonBlocking(frame);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ++frames;
  }
  EXPECT_EQ(*p, Connection::Progress::kWantWrite);
  std::thread reader([&] {
    for (int i = 0; i < frames; ++i) {
      auto f = (*client)->ReadFrame(milliseconds(5000));
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      EXPECT_EQ(f->payload, big);
    }
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (*p != Connection::Progress::kDone &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
    p = taken->WriteNonBlocking(frame);  // the very same bytes
    ASSERT_TRUE(p.ok()) << p.status().ToString();
  }
  reader.join();
  EXPECT_EQ(*p, Connection::Progress::kDone);
  // A closed channel says so.
  taken->Close();
  EXPECT_EQ(taken->WriteNonBlocking(frame).status(),
            Unavailable("channel is closed"));
}

TEST_F(TlsChannelTest, ClientChecksTheServerIdentity) {
  StartEchoServer();
  ClientOptions options;
  options.expected_peer = pki::Identity{pki::Role::kHost, "master"};
  auto good =
      ConnectChannel("127.0.0.1", server_->port(), *client_tls_, options);
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  options.expected_peer = pki::Identity{pki::Role::kHost, "tvd-master"};
  auto impostor =
      ConnectChannel("127.0.0.1", server_->port(), *client_tls_, options);
  EXPECT_EQ(impostor.status(),
            Unauthenticated("server is host:master, expected host:tvd-master"));
}

TEST_F(TlsChannelTest, ClientRefusesServerFromAnotherCa) {
  auto other = pki::CreateCa("other", pki::Validity::ForDays(1));
  ASSERT_TRUE(other.ok());
  auto tls = TlsContext::Create(
      TlsSide::kServer, IssuedCredentials(*other, pki::Role::kHost, "master"));
  ASSERT_TRUE(tls.ok());
  server_tls_ = std::move(*tls);
  StartEchoServer();
  auto c = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  // That server sends its certificate alone; its issuer is not ours.
  EXPECT_EQ(c.status(),
            Unauthenticated("peer certificate rejected: unable to get local "
                            "issuer certificate"));
}

// The CA certificate is never sent along: the peer trusts only the CA in
// its own store, so it could not use it, and building the chain costs a
// verification and a certificate parse per handshake.
TEST_F(TlsChannelTest, TheServerSendsItsCertificateAlone) {
  StartEchoServer();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(server_->port());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  // A plain OpenSSL client on the project's client context, which does its
  // own chain building unless told otherwise.
  SSL* ssl = SSL_new(client_tls_->get());
  SSL_set_fd(ssl, fd);
  ASSERT_EQ(SSL_connect(ssl), 1);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 1);
  EXPECT_EQ(SSL_get_verify_result(ssl), X509_V_OK);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ::close(fd);
}

TEST_F(TlsChannelTest, ClientHandshakeTimesOutOnSilentServer) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ClientOptions options;
  options.connect_timeout = milliseconds(200);
  auto c =
      ConnectChannel("127.0.0.1", ntohs(addr.sin_port), *client_tls_, options);
  EXPECT_EQ(c.status(), Timeout("TLS handshake timed out after 200 ms"));
  ::close(fd);
}

TEST_F(TlsChannelTest, ManyClientsAreServedWhileOneStalls) {
  ServerOptions options;
  options.handshake_timeout = milliseconds(3000);
  StartEchoServer(options);
  auto stalled = ConnectTcp("127.0.0.1", server_->port(), milliseconds(1000));
  ASSERT_TRUE(stalled.ok());
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      auto c = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
      if (!c.ok()) return;
      if (!(*c)->WriteFrame(MessageType::kAttestHello, {}, milliseconds(1000))
               .ok()) {
        return;
      }
      if ((*c)->ReadFrame(milliseconds(1000)).ok()) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 8);
  ::close(*stalled);
}

TEST_F(TlsChannelTest, StopEndsOpenConnections) {
  StartEchoServer();
  auto c = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      (*c)->WriteFrame(MessageType::kAttestHello, {}, milliseconds(500)).ok());
  ASSERT_TRUE((*c)->ReadFrame(milliseconds(1000)).ok());
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(WaitReport((*c)->local_address()), Status::Ok());
  EXPECT_FALSE((*c)->ReadFrame(milliseconds(500)).ok());
}

TEST_F(TlsChannelTest, ConnectionBeyondTheLimitIsReportedUnavailable) {
  ServerOptions options;
  options.max_connections = 1;
  StartEchoServer(options);
  auto first = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(first.ok()) << first.status();
  // One round trip: the first connection's handler is running.
  ASSERT_TRUE((*first)
                  ->WriteFrame(MessageType::kAttestHello, {}, milliseconds(500))
                  .ok());
  ASSERT_TRUE((*first)->ReadFrame(milliseconds(1000)).ok());
  auto second = ConnectTcp("127.0.0.1", server_->port(), milliseconds(1000));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(WaitReport(LocalAddressOf(*second)),
            Unavailable("too many connections (limit 1)"));
  // Refused sockets are closed at once, without a handshake.
  char c;
  EXPECT_EQ(::recv(*second, &c, 1, 0), 0);
  ::close(*second);
}

TEST_F(TlsChannelTest, ConnectionBeyondTheHandshakeLimitIsToldToComeBack) {
  ServerOptions options;
  options.max_handshakes = 1;
  options.handshake_timeout = milliseconds(5000);
  StartEchoServer(options);
  // A client that connects and never starts its handshake holds the one
  // handshake slot.
  auto silent = ConnectTcp("127.0.0.1", server_->port(), milliseconds(1000));
  ASSERT_TRUE(silent.ok()) << silent.status();
  for (int i = 0; i < 500 && server_->handshakes_in_progress() == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(server_->handshakes_in_progress(), 1u);
  auto busy = ConnectTcp("127.0.0.1", server_->port(), milliseconds(1000));
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_EQ(WaitReport(LocalAddressOf(*busy)),
            Unavailable("busy: 1 TLS handshakes in progress (limit 1)"));
  char c;
  EXPECT_EQ(::recv(*busy, &c, 1, 0), 0);  // closed without a handshake
  ::close(*busy);
  // Once the slot is free, a client is served as usual.
  ::close(*silent);
  EXPECT_FALSE(WaitReport(LocalAddressOf(*silent)).ok());
  auto later = ConnectChannel("127.0.0.1", server_->port(), *client_tls_);
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_TRUE((*later)
                  ->WriteFrame(MessageType::kAttestHello, {}, milliseconds(500))
                  .ok());
  EXPECT_TRUE((*later)->ReadFrame(milliseconds(1000)).ok());
}

TEST_F(TlsChannelTest, RefusesNonTls13ConfigurationsAtCreation) {
  TlsCredentials bad{ca_.cert_pem, "not a certificate", SecureBytes()};
  EXPECT_EQ(TlsContext::Create(TlsSide::kClient, bad).status(),
            InvalidArgument("certificate does not parse"));
  auto other = pki::CreateCa("other", pki::Validity::ForDays(1));
  ASSERT_TRUE(other.ok());
  TlsCredentials mismatched = IssuedCredentials(ca_, pki::Role::kHost, "a");
  mismatched.key_pem = other->key_pem.Clone();
  EXPECT_EQ(TlsContext::Create(TlsSide::kClient, mismatched).status(),
            InvalidArgument("private key does not match certificate"));
}

}  // namespace
}  // namespace tvd::channel
