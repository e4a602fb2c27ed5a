// Fuzzes the host control protocol's decoders (what a local client or a
// proxy sends): they must never crash, and an accepted request must survive
// an encode/decode round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/host/control_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = tvd::host::DecodeRequest(body);
  if (request.ok()) {
    auto again = tvd::host::DecodeRequest(tvd::host::EncodeRequest(*request));
    if (!again.ok() || !(*again == *request)) std::abort();
  }
  auto response = tvd::host::DecodeResponse(body);
  if (response.ok()) {
    (void)tvd::host::EncodeResponse(*response);
  }
  return 0;
}
