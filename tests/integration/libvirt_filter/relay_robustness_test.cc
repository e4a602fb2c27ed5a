// Broken, hostile and slow tenants: the offending connection is closed (or
// answered with an error), and the relay keeps serving everybody else.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "relay_env.h"
#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/pki/private_file.h"
#include "tvd/testing/libvirt_pki.h"

namespace tvd::libvirt_filter::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A TLS client that speaks raw bytes to the relay with a tenant's files.
class RawTenant {
 public:
  static std::unique_ptr<RawTenant> Connect(std::uint16_t port,
                                            const std::string& pki_dir,
                                            int receive_buffer = 0) {
    auto t = std::unique_ptr<RawTenant>(new RawTenant());
    t->ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_use_certificate_file(t->ctx_, (pki_dir + "/clientcert.pem").c_str(),
                                 SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(t->ctx_, (pki_dir + "/clientkey.pem").c_str(),
                                SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(t->ctx_, (pki_dir + "/cacert.pem").c_str(),
                                  nullptr);
    SSL_CTX_set_verify(t->ctx_, SSL_VERIFY_PEER, nullptr);
    t->fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(t->fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                   sizeof(receive_buffer));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(t->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0) {
      return nullptr;
    }
    timeval tv{5, 0};
    ::setsockopt(t->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    t->ssl_ = SSL_new(t->ctx_);
    SSL_set_fd(t->ssl_, t->fd_);
    if (SSL_connect(t->ssl_) != 1) {
      ERR_clear_error();
      t->handshake_failed_ = true;
      return t;
    }
    std::uint8_t ok = 0;
    if (SSL_read(t->ssl_, &ok, 1) != 1 || ok != 1) t->handshake_failed_ = true;
    return t;
  }
  ~RawTenant() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  bool handshake_failed() const { return handshake_failed_; }
  bool Write(const std::vector<std::uint8_t>& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // Reads until the relay closes the connection (true) or `limit` passes.
  bool WaitForClose(std::chrono::milliseconds limit) {
    Clock::time_point deadline = Clock::now() + limit;
    std::uint8_t buf[65536];
    while (Clock::now() < deadline) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) continue;
      int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      return true;
    }
    return false;
  }
  // Reads one whole packet (5 s limit).
  StatusOr<Packet> ReadPacket() {
    Packet p;
    while (true) {
      StatusOr<bool> got = assembler_.Next(p);
      if (!got.ok()) return got.status();
      if (*got) return p;
      std::uint8_t buf[16384];
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n <= 0) {
        ERR_clear_error();
        return Unavailable("connection closed or timed out");
      }
      assembler_.Append({buf, static_cast<std::size_t>(n)});
    }
  }
  int fd() const { return fd_; }
  SSL* ssl() { return ssl_; }

 private:
  RawTenant() = default;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_failed_ = false;
  PacketAssembler assembler_;
};

std::vector<std::uint8_t> Call(std::int32_t proc, std::uint32_t serial,
                               const std::vector<std::uint8_t>& args,
                               MessageType type = MessageType::kCall,
                               std::uint32_t program = kRemoteProgram) {
  PacketHeader h;
  h.program = program;
  h.version = 1;
  h.procedure = proc;
  h.type = type;
  h.serial = serial;
  return EncodePacket(h, args);
}

std::vector<std::uint8_t> OpenCall(std::uint32_t serial) {
  OpenArgs a;
  a.name = "test:///default";
  return Call(kProcConnectOpen, serial, EncodeOpenArgs(a));
}

class RelayRobustnessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);
    RelayOptions options;
    options.frame_timeout = std::chrono::milliseconds(800);
    options.write_timeout = std::chrono::milliseconds(1500);
    options.max_buffered = 256 * 1024;
    options.socket_send_buffer = 32 * 1024;
    auto env = RelayEnv::Start(options);
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = env->release();
    std::string file =
        env_->WriteFile("blue-vm1.xml", DomainXml("blue-vm1", "blue"));
    ASSERT_EQ(env_->Virsh(env_->AdminUri(), {"define", file}).exit_status, 0);
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(env_, nullptr); }

  std::unique_ptr<RawTenant> Blue(int receive_buffer = 0) {
    auto t = RawTenant::Connect(env_->relay->port(), env_->PkiDir("blue"),
                                receive_buffer);
    EXPECT_NE(t, nullptr);
    EXPECT_FALSE(t->handshake_failed());
    return t;
  }
  // Another tenant is still served.
  void ExpectOthersServed() {
    CommandResult r =
        env_->Virsh(env_->TenantUri("blue"), {"list", "--all", "--name"});
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_EQ(r.out, "blue-vm1\n");
  }
  void ExpectClosedForProtocol(RawTenant& t, std::uint64_t before) {
    EXPECT_TRUE(t.WaitForClose(std::chrono::seconds(5)));
    Clock::time_point deadline = Clock::now() + std::chrono::seconds(2);
    while (env_->relay->closed_for_protocol_errors() == before &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(env_->relay->closed_for_protocol_errors(), before + 1);
  }

  static RelayEnv* env_;
};

RelayEnv* RelayRobustnessTest::env_ = nullptr;

TEST_F(RelayRobustnessTest, LyingLengthFieldClosesTheConnection) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  // Says 4 GiB; only the header follows.
  std::vector<std::uint8_t> bytes = OpenCall(1);
  bytes[0] = bytes[1] = bytes[2] = bytes[3] = 0xff;
  ASSERT_TRUE(t->Write(bytes));
  ExpectClosedForProtocol(*t, before);
  ExpectOthersServed();
}

TEST_F(RelayRobustnessTest, FrameOf16MiBOrMoreIsRefusedUnread) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  std::vector<std::uint8_t> bytes = OpenCall(1);
  std::uint32_t length = 16 * 1024 * 1024 + 1;
  bytes[0] = static_cast<std::uint8_t>(length >> 24);
  bytes[1] = static_cast<std::uint8_t>(length >> 16);
  bytes[2] = static_cast<std::uint8_t>(length >> 8);
  bytes[3] = static_cast<std::uint8_t>(length);
  ASSERT_TRUE(t->Write(bytes));
  ExpectClosedForProtocol(*t, before);
  ExpectOthersServed();
}

TEST_F(RelayRobustnessTest, LengthBelowTheHeaderClosesTheConnection) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  ASSERT_TRUE(t->Write({0, 0, 0, 8, 1, 2, 3, 4}));
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, UnknownMessageTypeClosesTheConnection) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  std::vector<std::uint8_t> bytes = OpenCall(1);
  bytes[4 + 12 + 3] = 9;  // type
  ASSERT_TRUE(t->Write(bytes));
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, MalformedArgumentsCloseTheConnection) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  ASSERT_TRUE(t->Write(OpenCall(1)));
  ASSERT_TRUE(t->ReadPacket().ok());
  // ListAllDomains with its flags missing.
  ASSERT_TRUE(t->Write(Call(kProcConnectListAllDomains, 2, EncodeInt(1))));
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, StreamDataFromTheTenantClosesTheConnection) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  ASSERT_TRUE(t->Write(
      Call(kProcDomainGetXmlDesc, 1, {1, 2, 3, 4}, MessageType::kStream)));
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, PartialFrameTimesOut) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  std::vector<std::uint8_t> bytes = OpenCall(1);
  bytes.resize(10);
  ASSERT_TRUE(t->Write(bytes));
  // While it hangs, others are served.
  ExpectOthersServed();
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, ClientThatDoesNotReadIsClosed) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue(/*receive_buffer=*/4096);
  ASSERT_TRUE(t->Write(OpenCall(1)));
  ASSERT_TRUE(t->ReadPacket().ok());
  // Ask for capabilities over and over and never read the answers.
  int flags = ::fcntl(t->fd(), F_GETFL);
  ::fcntl(t->fd(), F_SETFL, flags | O_NONBLOCK);
  // Batches small enough that libvirtd answers them as they come (the relay
  // refuses more than 64 unanswered calls), so replies pile up on the way
  // to the tenant until the relay stops reading it and gives up on it.
  std::uint32_t serial = 10;
  std::vector<std::uint8_t> batch;
  Clock::time_point until = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < until) {
    if (batch.empty()) {
      for (int i = 0; i < 4; ++i) {
        std::vector<std::uint8_t> c =
            Call(kProcConnectGetCapabilities, serial++, {});
        batch.insert(batch.end(), c.begin(), c.end());
      }
    }
    // A write that did not go through is retried with the same bytes.
    int n = SSL_write(t->ssl(), batch.data(), static_cast<int>(batch.size()));
    ERR_clear_error();
    if (n > 0) batch.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(n > 0 ? 4 : 20));
  }
  ExpectOthersServed();
  ::fcntl(t->fd(), F_SETFL, flags);
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, FileDescriptorPassingIsAnsweredWithAnError) {
  auto t = Blue();
  ASSERT_TRUE(t->Write(OpenCall(1)));
  ASSERT_TRUE(t->ReadPacket().ok());
  ASSERT_TRUE(
      t->Write(Call(kProcConnectGetType, 2, {0}, MessageType::kCallWithFds)));
  StatusOr<Packet> reply = t->ReadPacket();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->header.serial, 2u);
  EXPECT_EQ(reply->header.status, MessageStatus::kError);
  StatusOr<RemoteError> e = DecodeError(reply->payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, kErrOperationDenied);
  EXPECT_EQ(*e->message,
            "operation forbidden: passing file descriptors is not available "
            "through the TVD relay");
}

TEST_F(RelayRobustnessTest, LxcProgramIsAnsweredWithAnError) {
  auto t = Blue();
  ASSERT_TRUE(t->Write(Call(1, 7, {}, MessageType::kCall, kLxcProgram)));
  StatusOr<Packet> reply = t->ReadPacket();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  StatusOr<RemoteError> e = DecodeError(reply->payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e->message,
            "operation forbidden: RPC program 0x00068000 is not available "
            "through the TVD relay");
}

TEST_F(RelayRobustnessTest, KeepalivePingIsAnsweredByLibvirtd) {
  auto t = Blue();
  ASSERT_TRUE(t->Write(OpenCall(1)));
  ASSERT_TRUE(t->ReadPacket().ok());
  ASSERT_TRUE(t->Write(
      Call(kKeepalivePing, 0, {}, MessageType::kMessage, kKeepaliveProgram)));
  StatusOr<Packet> pong = t->ReadPacket();
  ASSERT_TRUE(pong.ok()) << pong.status().ToString();
  EXPECT_EQ(pong->header.program, kKeepaliveProgram);
  EXPECT_EQ(pong->header.procedure, kKeepalivePong);
}

TEST_F(RelayRobustnessTest, MalformedKeepaliveClosesTheConnection) {
  auto before = env_->relay->closed_for_protocol_errors();
  auto t = Blue();
  ASSERT_TRUE(
      t->Write(Call(9, 0, {}, MessageType::kMessage, kKeepaliveProgram)));
  ExpectClosedForProtocol(*t, before);
}

TEST_F(RelayRobustnessTest, CertificateFromAnotherCaIsRefused) {
  auto other = pki::CreateCa("other-vdc", pki::Validity::ForDays(1));
  ASSERT_TRUE(other.ok());
  auto cert = pki::IssueCertificate(*other, pki::Role::kTenant, "blue",
                                    pki::Validity::ForDays(7), {});
  ASSERT_TRUE(cert.ok());
  std::string dir = env_->dir + "/pki-foreign";
  ASSERT_TRUE(
      tvd::testing::WriteClientPkiDir(dir, env_->ca.cert_pem, *cert).ok());
  auto t = RawTenant::Connect(env_->relay->port(), dir);
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->handshake_failed());
  CommandResult r = env_->Virsh(
      "test+tls://127.0.0.1:" + std::to_string(env_->relay->port()) +
          "/default?pkipath=" + dir,
      {"list"});
  EXPECT_EQ(r.exit_status, 1);
  ExpectOthersServed();
}

}  // namespace
}  // namespace tvd::libvirt_filter::testing
