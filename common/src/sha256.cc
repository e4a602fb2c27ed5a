#include "tvd/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace tvd {

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

namespace {

// SHA-256 fetched from the default provider once per process. EVP_sha256()
// makes every EVP_DigestInit_ex look the algorithm up again (a locked
// property query), which cost more than hashing the few hundred bytes most
// callers hash (quote checks hash five small inputs per quote).
const EVP_MD* FetchedSha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

Sha256Hasher::Sha256Hasher() : impl_(new Impl) {
  impl_->ctx = EVP_MD_CTX_new();
  const EVP_MD* md = FetchedSha256();
  if (impl_->ctx == nullptr || md == nullptr ||
      EVP_DigestInit_ex2(impl_->ctx, md, nullptr) != 1) {
    // Only fails on allocation failure or a broken OpenSSL install.
    std::abort();
  }
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

void Sha256Hasher::Update(std::span<const std::uint8_t> data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

void Sha256Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  return out;
}

Sha256Digest Sha256(std::span<const std::uint8_t> data) {
  Sha256Hasher h;
  h.Update(data);
  return h.Finish();
}

Sha256Digest Sha256(std::string_view data) {
  Sha256Hasher h;
  h.Update(data);
  return h.Finish();
}

StatusOr<Sha256Digest> Sha256File(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open " + path, errno);
  Sha256Hasher h;
  std::vector<std::uint8_t> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read " + path, err);
    }
    if (n == 0) break;
    h.Update(std::span<const std::uint8_t>(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return h.Finish();
}

std::string ToHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

StatusOr<Sha256Digest> Sha256FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return InvalidArgument("a sha256 digest is 64 hex digits, got " +
                           std::to_string(hex.size()) + " characters");
  }
  Sha256Digest out{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgument(
          "a sha256 digest has only hex digits, found '" +
          std::string(1, hi < 0 ? hex[2 * i] : hex[2 * i + 1]) +
          "' at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace tvd
