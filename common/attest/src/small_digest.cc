// See small_digest.h for why the direct (deprecated) interface is used here.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "small_digest.h"

#include <openssl/sha.h>

namespace tvd::attest::internal {

void Sha256Small(std::span<const std::uint8_t> a,
                 std::span<const std::uint8_t> b, std::uint8_t* out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, a.data(), a.size());
  if (!b.empty()) SHA256_Update(&ctx, b.data(), b.size());
  SHA256_Final(out, &ctx);
}

void Sha1Small(std::span<const std::uint8_t> a, std::uint8_t* out) {
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  SHA1_Update(&ctx, a.data(), a.size());
  SHA1_Final(out, &ctx);
}

}  // namespace tvd::attest::internal
