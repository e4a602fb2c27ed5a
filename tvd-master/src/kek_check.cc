#include "tvd/master/kek_check.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "tvd/master/key_wrap.h"
#include "tvd/sha256.h"

namespace tvd::master {

StatusOr<std::string> KekCheckValue(const SecureBytes& kek) {
  if (kek.size() != kKekSize) {
    return InvalidArgument("master KEK must be 32 bytes");
  }
  static constexpr std::string_view kLabel = "tvd-master store KEK check v1";
  std::array<std::uint8_t, 32> mac{};
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, kek.data(),
                kek.size(),
                reinterpret_cast<const unsigned char*>(kLabel.data()),
                kLabel.size(), mac.data(), mac.size(), &len) == nullptr ||
      len != mac.size()) {
    return Internal("HMAC-SHA-256 of the KEK check failed");
  }
  return ToHex(mac);
}

}  // namespace tvd::master
