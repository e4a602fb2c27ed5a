// Fuzzes the deep-quote evidence parser (deep_quote.h): any bytes give
// evidence or an InvalidArgument, never a crash; evidence that parses
// encodes and parses back to the same values, and its verification (with
// its own master certificate as the CA) runs to a verdict without
// crashing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/attest/deep_quote.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::attest;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = ParseDeepQuoteEvidence(text);
  if (!e.ok()) {
    if (e.status().code() != tvd::ErrorCode::kInvalidArgument) std::abort();
    return 0;
  }
  auto json = EncodeDeepQuoteEvidence(*e);
  if (!json.ok()) std::abort();
  auto back = ParseDeepQuoteEvidence(*json);
  if (!back.ok() || !(back->statement.statement == e->statement.statement) ||
      back->statement.signature != e->statement.signature ||
      back->statement.master_certificate != e->statement.master_certificate ||
      back->quote.ak_public != e->quote.ak_public ||
      back->quote.attest != e->quote.attest ||
      back->quote.signature != e->quote.signature ||
      !(back->quote.pcrs == e->quote.pcrs)) {
    std::abort();
  }
  DeepQuoteExpectation want;
  want.tvd = e->statement.statement.tvd;
  want.vm = e->statement.statement.vm;
  auto v = VerifyDeepQuote(*e, e->statement.master_certificate, want,
                           std::chrono::system_clock::now());
  (void)v;
  return 0;
}
