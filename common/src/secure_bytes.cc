#include "tvd/secure_bytes.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace tvd {

SecureBytes::SecureBytes(std::size_t size) : bytes_(size, 0) {}

SecureBytes::SecureBytes(std::span<const std::uint8_t> data)
    : bytes_(data.begin(), data.end()) {}

SecureBytes::~SecureBytes() { Clear(); }

SecureBytes::SecureBytes(SecureBytes&& other) noexcept
    : bytes_(std::move(other.bytes_)) {
  other.bytes_.clear();
}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

SecureBytes SecureBytes::Random(std::size_t size) {
  SecureBytes out(size);
  if (size > 0 && RAND_bytes(out.data(), static_cast<int>(size)) != 1) {
    std::abort();
  }
  return out;
}

SecureBytes SecureBytes::Clone() const { return SecureBytes(view()); }

SecureBytes SecureBytes::Adopt(std::vector<std::uint8_t>&& bytes) {
  SecureBytes out;
  out.bytes_ = std::move(bytes);
  bytes.clear();
  return out;
}

void SecureBytes::Clear() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  // Shrink to zero so no wiped-but-allocated copy lingers in capacity.
  std::vector<std::uint8_t>().swap(bytes_);
}

bool SecureBytes::Equals(std::span<const std::uint8_t> other) const {
  if (other.size() != bytes_.size()) return false;
  return CRYPTO_memcmp(bytes_.data(), other.data(), bytes_.size()) == 0;
}

}  // namespace tvd
