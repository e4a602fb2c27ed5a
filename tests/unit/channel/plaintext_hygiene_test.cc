// No key a frame carries is left in freed memory by the channel: neither by
// the writer (the frame it puts together) nor by the reader (the decrypted
// bytes it buffers, OpenSSL's record buffers). The heap is watched from
// inside: this binary replaces operator delete and OpenSSL's allocator, and
// every block freed while a test watches is searched for the test's key.
// (A binary of its own: the replacements apply to the whole program. Not
// built with the sanitizers, which bring their own allocators.)
#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "issued_credentials.h"
#include "tvd/channel/channel_client.h"
#include "tvd/channel/connection.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"

namespace {

std::array<std::uint8_t, 32> watched_key{};
std::atomic<bool> watching{false};
// Freed blocks found holding the key, by who freed them.
std::atomic<int> found_in_cpp_heap{0};
std::atomic<int> found_in_openssl{0};

void Inspect(void* block, std::atomic<int>& found) {
  if (block == nullptr || !watching.load(std::memory_order_relaxed)) return;
  if (::memmem(block, ::malloc_usable_size(block), watched_key.data(),
               watched_key.size()) != nullptr) {
    ++found;
  }
}

void* OpenSslMalloc(std::size_t n, const char*, int) { return std::malloc(n); }
void OpenSslFree(void* block, const char*, int) {
  Inspect(block, found_in_openssl);
  std::free(block);
}
// A copy and a free, so the block realloc gives up is inspected too.
void* OpenSslRealloc(void* block, std::size_t n, const char*, int) {
  if (block == nullptr) return std::malloc(n);
  void* grown = std::malloc(n);
  if (grown == nullptr) return nullptr;
  std::memcpy(grown, block, std::min(n, ::malloc_usable_size(block)));
  OpenSslFree(block, nullptr, 0);
  return grown;
}

// Before any OpenSSL allocation (static initialisation of this binary).
const bool openssl_hooked =
    CRYPTO_set_mem_functions(OpenSslMalloc, OpenSslRealloc, OpenSslFree) == 1;

}  // namespace

void operator delete(void* block) noexcept {
  Inspect(block, found_in_cpp_heap);
  std::free(block);
}
void operator delete(void* block, std::size_t) noexcept {
  Inspect(block, found_in_cpp_heap);
  std::free(block);
}
void operator delete[](void* block) noexcept {
  Inspect(block, found_in_cpp_heap);
  std::free(block);
}
void operator delete[](void* block, std::size_t) noexcept {
  Inspect(block, found_in_cpp_heap);
  std::free(block);
}

namespace tvd::channel {
namespace {

using std::chrono::milliseconds;

using testing::IssuedCredentials;

// Keeps the compiler from eliding an allocation whose contents it can see.
void Escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

class PlaintextHygieneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(openssl_hooked) << "OpenSSL allocated before the hooks";
    ASSERT_EQ(RAND_bytes(watched_key.data(), watched_key.size()), 1);
    auto ca = pki::CreateCa("vdc", pki::Validity::ForDays(1));
    ASSERT_TRUE(ca.ok());
    auto server = TlsContext::Create(
        TlsSide::kServer, IssuedCredentials(*ca, pki::Role::kHost, "master"));
    auto client = TlsContext::Create(
        TlsSide::kClient, IssuedCredentials(*ca, pki::Role::kHost, "host-a"));
    ASSERT_TRUE(server.ok() && client.ok());
    server_tls_ = std::move(*server);
    client_tls_ = std::move(*client);
    IgnoreSigpipeOnce();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    StatusOr<ConnectionPtr> accepted = Unavailable("not run");
    std::thread serving([&] {
      accepted = Connection::Handshake(fds[0], server_tls_->get(), true,
                                       milliseconds(5000), 1 << 20);
    });
    auto connected = Connection::Handshake(fds[1], client_tls_->get(), false,
                                           milliseconds(5000), 1 << 20);
    serving.join();
    ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
    ASSERT_TRUE(connected.ok()) << connected.status().ToString();
    master_ = std::move(*accepted);
    host_ = std::move(*connected);
    found_in_cpp_heap = 0;
    found_in_openssl = 0;
  }

  void TearDown() override { watching = false; }

  // A payload of `size` bytes with the key at `at`.
  static std::vector<std::uint8_t> PayloadWithKey(std::size_t size,
                                                  std::size_t at) {
    std::vector<std::uint8_t> payload(size, 0x5a);
    std::memcpy(payload.data() + at, watched_key.data(), watched_key.size());
    return payload;
  }

  // The master writes `payload`; the host reads it and wipes what it got,
  // as MasterClient does with a JoinGrant; then both ends close.
  void Exchange(const std::vector<std::uint8_t>& payload) {
    watching = true;
    std::thread writing([&] {
      EXPECT_TRUE(
          master_
              ->WriteFrame(MessageType::kJoinGrant, payload, milliseconds(5000))
              .ok());
    });
    auto frame = host_->ReadFrame(milliseconds(5000));
    writing.join();
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ(frame->payload, payload);
    OPENSSL_cleanse(frame->payload.data(), frame->payload.size());
    frame = Unavailable("read");
    master_.reset();
    host_.reset();
    watching = false;
  }

  std::unique_ptr<TlsContext> server_tls_;
  std::unique_ptr<TlsContext> client_tls_;
  ConnectionPtr master_;
  ConnectionPtr host_;
};

TEST_F(PlaintextHygieneTest, TheWatchSeesAKeyLeftInFreedMemory) {
  watching = true;
  auto* block = new std::uint8_t[64];
  std::memcpy(block + 16, watched_key.data(), watched_key.size());
  Escape(block);
  delete[] block;
  watching = false;
  EXPECT_EQ(found_in_cpp_heap, 1);
}

TEST_F(PlaintextHygieneTest, ASmallFrameLeavesNoCopyOfItsKey) {
  Exchange(PayloadWithKey(200, 40));
  EXPECT_EQ(found_in_cpp_heap, 0);
  EXPECT_EQ(found_in_openssl, 0);
}

// A grant of thousands of members: many TLS records, an inbox that grows
// several times while the frame arrives.
TEST_F(PlaintextHygieneTest, ALargeFrameLeavesNoCopyOfItsKey) {
  Exchange(PayloadWithKey(300000, 77));
  EXPECT_EQ(found_in_cpp_heap, 0);
  EXPECT_EQ(found_in_openssl, 0);
}

// The key straddles two TLS records (a large frame's payload starts a
// record of its own, 16,384 bytes long).
TEST_F(PlaintextHygieneTest, AKeySplitAcrossRecordsLeavesNoCopy) {
  Exchange(PayloadWithKey(40000, 16384 - 16));
  EXPECT_EQ(found_in_cpp_heap, 0);
  EXPECT_EQ(found_in_openssl, 0);
}

}  // namespace
}  // namespace tvd::channel
