// What a host's TCB must look like to be accepted: the verifier's input,
// mapped from a TVD policy's host requirements by the master.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "tvd/attest/ima_log.h"
#include "tvd/attest/measured_boot.h"
#include "tvd/sha256.h"

namespace tvd::attest {

// PCR `index` (SHA-256 bank) must hold one of `allowed`.
struct PcrExpectation {
  std::uint32_t index = 0;
  std::vector<Sha256Digest> allowed;
};

struct TcbRequirements {
  std::vector<PcrExpectation> pcrs;
  // When set, the host must send its IMA log; it is replayed against PCR 10
  // and every entry checked against the list. PCRs 0-10 are then always
  // quoted: 10 for the replay, 0-9 for the log's boot_aggregate
  // (ima_log.h).
  std::optional<ImaAllowlist> ima;
  // When set, the host must send its UEFI event log; it is replayed against
  // the quoted PCRs 0-7 (always quoted then) and checked against the policy
  // (measured_boot.h).
  std::optional<MeasuredBootPolicy> measured_boot;
  // A host that reports it has no TPM is accepted only when this is true.
  bool allow_no_tpm = false;
  // Re-attestation period on an established channel.
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
};

// The PCRs to quote for `req`: the expectations' indices, plus 0-10 when
// IMA is required (boot_aggregate and replay), plus 0-7 with a measured-boot
// policy (the event log's replay); ascending, without duplicates.
std::vector<std::uint32_t> PcrSelectionFor(const TcbRequirements& req);

}  // namespace tvd::attest
