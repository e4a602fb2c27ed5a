#include "tvd/attest/requirements.h"

#include <algorithm>

namespace tvd::attest {

std::vector<std::uint32_t> PcrSelectionFor(const TcbRequirements& req) {
  std::vector<std::uint32_t> out;
  for (const PcrExpectation& e : req.pcrs) out.push_back(e.index);
  if (req.ima) {
    for (std::uint32_t i = 0; i < kBootAggregatePcrCount; ++i) {
      out.push_back(i);
    }
    out.push_back(kImaPcr);
  }
  if (req.measured_boot) {
    for (std::uint32_t i = 0; i < kEventLogPcrs; ++i) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace tvd::attest
