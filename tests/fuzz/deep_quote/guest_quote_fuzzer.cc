// Fuzzes the guest quote lines (guest_quote.h) both ways: any bytes give a
// request/answer or an error with the codes the header names; what parses
// formats back to the very same line (one spelling per value), and a PCR
// list parses back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/attest/guest_quote.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::attest;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = ParseGuestQuoteRequest(line);
  if (!request.ok()) {
    if (request.status().code() != tvd::ErrorCode::kInvalidArgument) {
      std::abort();
    }
  } else {
    auto again = FormatGuestQuoteRequest(*request);
    if (!again.ok() || *again != line) std::abort();
  }
  auto answer = ParseGuestQuoteAnswer(line);
  if (!answer.ok()) {
    auto code = answer.status().code();
    if (code != tvd::ErrorCode::kInvalidArgument &&
        code != tvd::ErrorCode::kFailedPrecondition) {
      std::abort();
    }
  } else {
    auto again = FormatGuestQuoteAnswer(*answer);
    if (!again.ok() || *again != line) std::abort();
  }
  auto pcrs = ParsePcrList(line);
  if (pcrs.ok() && FormatPcrList(*pcrs) != line) std::abort();
  return 0;
}
