// Fuzzes the proxy's admission record parser (a file read back after a
// restart): it must never crash, and an accepted record must survive a
// serialize/parse round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/proxy/admission_store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto record = tvd::proxy::ParseAdmissionRecord(text, "fuzz");
  if (record.ok()) {
    auto again = tvd::proxy::ParseAdmissionRecord(
        tvd::proxy::SerializeAdmissionRecord(*record), "fuzz");
    if (!again.ok() || !(*again == *record)) std::abort();
  } else if (record.status().message().rfind("fuzz: ", 0) != 0) {
    std::abort();  // every error names where it is
  }
  return 0;
}
