#include "tvd/protocol/tunnel_key.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <vector>

#include "tvd/protocol/messages.h"

namespace tvd::protocol {

StatusOr<SecureBytes> DeriveTunnelPsk(const SecureBytes& tvd_key,
                                      std::string_view tvd,
                                      std::string_view host_a,
                                      std::string_view host_b,
                                      std::uint64_t epoch) {
  if (tvd_key.size() != kTvdKeySize) {
    return InvalidArgument("tunnel PSK: TVD key must be 32 bytes, got " +
                           std::to_string(tvd_key.size()));
  }
  if (tvd.empty() || host_a.empty() || host_b.empty()) {
    return InvalidArgument("tunnel PSK: TVD and host names must not be empty");
  }
  if (host_a == host_b) {
    return InvalidArgument("tunnel PSK: both ends are host '" +
                           std::string(host_a) + "'");
  }
  if (epoch == 0) return InvalidArgument("tunnel PSK: epoch 0 is not valid");
  std::string_view lower = host_a < host_b ? host_a : host_b;
  std::string_view higher = host_a < host_b ? host_b : host_a;

  std::vector<std::uint8_t> info;
  auto put = [&info](std::string_view s) {
    info.insert(info.end(), s.begin(), s.end());
    info.push_back(0);
  };
  put("tvd-tunnel");
  put(tvd);
  put(lower);
  put(higher);
  for (int shift = 56; shift >= 0; shift -= 8) {
    info.push_back(static_cast<std::uint8_t>(epoch >> shift));
  }

  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  SecureBytes out(kTunnelPskSize);
  std::size_t out_len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), tvd_key.data(),
                                 static_cast<int>(tvd_key.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info.data(),
                                  static_cast<int>(info.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &out_len) <= 0 ||
      out_len != kTunnelPskSize) {
    return Internal("tunnel PSK: HKDF-SHA256 failed in OpenSSL");
  }
  return out;
}

}  // namespace tvd::protocol
