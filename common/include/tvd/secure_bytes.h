// Key material in memory only, wiped when released.
//
// SecureBytes owns a buffer that is zeroed with OPENSSL_cleanse (which the
// compiler may not optimise away) on destruction, on move-from and on Clear().
// It is not copyable by accident: Clone() makes copies explicit. It never
// prints its contents; ToString/operator<< are deliberately absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tvd {

class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(std::size_t size);
  explicit SecureBytes(std::span<const std::uint8_t> data);
  ~SecureBytes();

  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  // Fresh random bytes from the OpenSSL CSPRNG. Aborts if the CSPRNG fails,
  // because a key from a broken generator must never be used.
  static SecureBytes Random(std::size_t size);

  SecureBytes Clone() const;

  // Takes over `bytes`' buffer (no copy); it is zeroed on release like any
  // other. The caller answers for copies the vector may have left behind
  // while it grew (reserve its size first).
  static SecureBytes Adopt(std::vector<std::uint8_t>&& bytes);

  // Zeroes and releases the buffer.
  void Clear();

  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::span<const std::uint8_t> view() const { return bytes_; }

  // Constant-time comparison of equal-length buffers.
  bool Equals(std::span<const std::uint8_t> other) const;

 private:
  std::vector<std::uint8_t> bytes_;
};

}  // namespace tvd
