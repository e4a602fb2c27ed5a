#include "tvd/proxy/disk_passphrase.h"

namespace tvd::proxy {

SecureBytes DiskPassphrase(const SecureBytes& disk_key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  SecureBytes out(disk_key.size() * 2);
  for (std::size_t i = 0; i < disk_key.size(); ++i) {
    out.data()[2 * i] =
        static_cast<std::uint8_t>(kDigits[disk_key.data()[i] >> 4]);
    out.data()[2 * i + 1] =
        static_cast<std::uint8_t>(kDigits[disk_key.data()[i] & 0x0f]);
  }
  return out;
}

}  // namespace tvd::proxy
