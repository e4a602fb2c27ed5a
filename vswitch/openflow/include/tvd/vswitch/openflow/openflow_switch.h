// What the TVD network model needs from the switch's flow table. The real
// implementation is OpenFlowClient (OpenFlow 1.3 over the bridge's
// management socket); unit tests use a fake.
#pragma once

#include <cstdint>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/openflow/openflow_codec.h"

namespace tvd::vswitch {

class OpenFlowSwitch {
 public:
  virtual ~OpenFlowSwitch() = default;

  // Adds (or replaces: same table, priority and match) every flow, and
  // returns only after the switch has processed all of them (barrier).
  // The first error the switch reports fails the call, naming the flow.
  virtual Status AddFlows(const std::vector<openflow::Flow>& flows) = 0;

  // Deletes every flow whose cookie equals `cookie` under `mask`; OK when
  // none matched.
  virtual Status DeleteFlows(std::uint64_t cookie, std::uint64_t mask) = 0;

  // Distinct cookies of the flows whose cookie matches under `mask`.
  virtual StatusOr<std::vector<std::uint64_t>> ListCookies(
      std::uint64_t cookie, std::uint64_t mask) = 0;
};

}  // namespace tvd::vswitch
