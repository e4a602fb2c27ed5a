#include "tvd/proxy/tap_name.h"

#include <span>

#include "tvd/sha256.h"

namespace tvd::proxy {

std::string TapName(const std::string& tvd, std::uint32_t tvd_id,
                    const std::string& vm, std::size_t nic_index) {
  // NUL separators: no two tuples give the same input.
  std::string input = "tvd-tap";
  for (const std::string& part :
       {tvd, std::to_string(tvd_id), vm, std::to_string(nic_index)}) {
    input.push_back('\0');
    input += part;
  }
  Sha256Digest digest = Sha256(input);
  return std::string(kTapNamePrefix) +
         ToHex(std::span<const std::uint8_t>(digest.data(), 6));
}

}  // namespace tvd::proxy
