// SHA-256 helpers on OpenSSL's EVP interface.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Digest of `data` in one call.
Sha256Digest Sha256(std::span<const std::uint8_t> data);
Sha256Digest Sha256(std::string_view data);

// Streams the file at `path` through SHA-256 in fixed-size blocks, so memory
// use does not grow with the file. Fails with an IoError naming the path.
StatusOr<Sha256Digest> Sha256File(const std::string& path);

// Lower-case hex, 64 characters.
std::string ToHex(std::span<const std::uint8_t> bytes);

// Parses exactly 64 hex digits (either case). Returns nullopt-like error
// (InvalidArgument) for any other length or character.
StatusOr<Sha256Digest> Sha256FromHex(std::string_view hex);

// Incremental hashing for callers that produce data piecewise.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::span<const std::uint8_t> data);
  void Update(std::string_view data);
  // Returns the digest; the hasher must not be used afterwards.
  Sha256Digest Finish();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace tvd
