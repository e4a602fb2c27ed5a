// Fuzz target for the qcow2 header parser: any bytes either parse into a
// header that keeps the parser's promises (qcow2_header.h) or give an
// InvalidArgument error; anything else, or a crash, is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/libvirt_filter/qcow2_header.h"

using namespace tvd::libvirt_filter;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tvd::StatusOr<Qcow2Header> h = ParseQcow2Header(bytes);
  if (!h.ok()) {
    if (h.status().code() != tvd::ErrorCode::kInvalidArgument ||
        !h.status().message().starts_with("qcow2 header: ")) {
      std::abort();
    }
    return 0;
  }
  if (!HasQcow2Magic(bytes) || (h->version != 2 && h->version != 3) ||
      h->cluster_bits < 9 || h->cluster_bits > 21 || h->crypt_method > 2 ||
      (h->incompatible_features & ~kQcow2KnownIncompatibleFeatures) != 0) {
    std::abort();
  }
  if (h->backing_file.has_value() &&
      (h->backing_file->empty() ||
       h->backing_file->size() > kQcow2MaxBackingNameBytes ||
       h->backing_file->find('\0') != std::string::npos ||
       bytes.substr(0, kQcow2HeaderReadBytes).find(*h->backing_file) ==
           std::string_view::npos)) {
    std::abort();
  }
  if (h->backing_format.has_value() && h->backing_format->size() > 15) {
    std::abort();
  }
  (void)PrintableBytes(bytes.substr(0, 256));
  return 0;
}
