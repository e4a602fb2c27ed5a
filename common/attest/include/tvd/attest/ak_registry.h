// The master's knowledge of attestation keys: which AKs (by TPM name) were
// enrolled for which host identity, their public keys ready for signature
// checks, and the last TPM clock state each AK reported. Thread-safe.
//
// In memory; the master persists enrolments and the clock history in its
// own store (through the clock sink) and re-adds both at start-up, so a
// master restart does not forget the last TPM state an AK showed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tvd/attest/tpm_public.h"
#include "tvd/mutex.h"
#include "tvd/pki/identity.h"
#include "tvd/status.h"

namespace tvd::attest {

// TPMS_CLOCK_INFO fields that must never go backwards for one AK.
struct TpmClockState {
  std::uint64_t clock = 0;
  std::uint32_t reset_count = 0;
  std::uint32_t restart_count = 0;
};

struct EnrolledAk {
  std::vector<std::uint8_t> name;         // TPM name
  std::vector<std::uint8_t> public_area;  // TPM2B_PUBLIC
  std::shared_ptr<EVP_PKEY> key;          // for signature checks
  // `key` set up once for checking a signature over a SHA-256 digest
  // (RSASSA-PKCS1-v1_5 or ECDSA): a quote check duplicates it instead of
  // looking the algorithms up again, which was a tenth of a re-attestation's
  // CPU. Never used directly: EVP_PKEY_CTX_dup, then verify on the copy.
  std::shared_ptr<EVP_PKEY_CTX> verify_digest;
};

class AkRegistry {
 public:
  // Records `ak_public` as an AK of `host`. InvalidArgument when it is not an
  // attestation key (CheckAttestationKey).
  Status Add(const pki::Identity& host,
             std::span<const std::uint8_t> ak_public);

  // The AK named `name` if it was enrolled for `host`. Unauthenticated
  // "AK <hex name> is not enrolled for <host>" otherwise.
  StatusOr<EnrolledAk> Find(const pki::Identity& host,
                            std::span<const std::uint8_t> name) const;

  // Checks `now`, the state in a quote whose nonce was issued at
  // attestation sequence `issued` (attestation_sequence.h), against the
  // latest state recorded for the AK before then: the TPM made the quote
  // after that, so its state cannot be older. A quote verified after a
  // later one of the same TPM (two challenges answered at once) is
  // therefore not refused. The default `issued` compares with the latest
  // state recorded at all. Unauthenticated "TPM reset count went backwards
  // (R after S)", "TPM restart count went backwards ...", "TPM clock went
  // backwards ...". `now` is recorded when it is later than every state
  // recorded so far; nothing is recorded on refusal. After recording, the
  // clock sink (if set) is called outside the registry's lock; its error is
  // returned as is (the caller then refuses the quote: a state that could
  // not be made durable must not be relied on).
  Status AdvanceClock(std::span<const std::uint8_t> ak_name,
                      const TpmClockState& now,
                      std::uint64_t issued = UINT64_MAX);

  // Where recorded states go to be durable. Called concurrently for
  // different quotes, possibly out of order for one AK: the sink must keep
  // the later state (reset count, restart count, clock compared in that
  // order). Set once, before the registry is used by other threads.
  using ClockSink = std::function<Status(std::span<const std::uint8_t> ak_name,
                                         const TpmClockState& state)>;
  void SetClockSink(ClockSink sink) { sink_ = std::move(sink); }

  // Start-up: the state an earlier run recorded for the AK. Kept only when
  // it is later than what is known already.
  void RestoreClock(std::span<const std::uint8_t> ak_name,
                    const TpmClockState& state);

 private:
  mutable Mutex mutex_;
  // Key: host identity string, then AK name.
  std::map<std::string, std::map<std::vector<std::uint8_t>, EnrolledAk>>
      by_host_ TVD_GUARDED_BY(mutex_);
  // Per AK, the states recorded, each later than the one before, with the
  // attestation sequence number at which each was recorded (0: restored at
  // start-up). The oldest are dropped beyond kClockHistory; the last one
  // dropped stays as `floor_of_dropped`.
  struct ClockHistory {
    std::vector<std::pair<std::uint64_t, TpmClockState>> recorded;
    std::optional<std::pair<std::uint64_t, TpmClockState>> floor_of_dropped;
  };
  static constexpr std::size_t kClockHistory = 64;
  std::map<std::vector<std::uint8_t>, ClockHistory> clocks_
      TVD_GUARDED_BY(mutex_);
  ClockSink sink_;  // set before concurrent use
};

}  // namespace tvd::attest
