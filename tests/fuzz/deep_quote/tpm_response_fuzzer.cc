// Fuzzes the raw TPM response parsers of the guest tool (tpm_wire.h): any
// bytes give a result or an InvalidArgument/FailedPrecondition, never a
// crash; what parses stays within the response (a public area and quote
// parts no longer than it), and a PCR_Read result pairs each PCR with one
// value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "tvd/attest/tpm_wire.h"

namespace {

void CheckError(const tvd::Status& s) {
  if (s.ok()) return;
  if (s.code() != tvd::ErrorCode::kInvalidArgument &&
      s.code() != tvd::ErrorCode::kFailedPrecondition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::attest::tpmwire;
  std::span<const std::uint8_t> in(data, size);
  auto created = ParseCreatePrimaryResponse(in);
  CheckError(created.status());
  if (created.ok() &&
      (created->public_area.size() > size || created->public_area.size() < 3)) {
    std::abort();
  }
  auto pcrs = ParsePcrReadResponse(in);
  CheckError(pcrs.status());
  if (pcrs.ok() && (pcrs->pcrs.size() != pcrs->values.size() ||
                    pcrs->pcrs.size() > kPcrCount)) {
    std::abort();
  }
  auto quote = ParseQuoteResponse(in);
  CheckError(quote.status());
  if (quote.ok() && (quote->attest.empty() ||
                     quote->attest.size() + quote->signature.size() > size)) {
    std::abort();
  }
  CheckError(ParsePcrExtendResponse(in));
  CheckError(ParseFlushContextResponse(in));
  auto total = ResponseSize(in);
  CheckError(total.status());
  if (total.ok() && (*total < 10 || *total > kMaxTpmResponse)) std::abort();
  return 0;
}
