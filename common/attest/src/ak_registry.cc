#include "tvd/attest/ak_registry.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tvd/attest/attestation_sequence.h"
#include "tvd/mutex.h"
#include "tvd/sha256.h"

namespace tvd::attest {

Status AkRegistry::Add(const pki::Identity& host,
                       std::span<const std::uint8_t> ak_public) {
  TVD_RETURN_IF_ERROR(CheckAttestationKey(ak_public));
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> name,
                       TpmObjectName(ak_public));
  TVD_ASSIGN_OR_RETURN(EvpPkeyPtr key, PublicKeyFromTpm(ak_public));
  std::shared_ptr<EVP_PKEY_CTX> verify(EVP_PKEY_CTX_new(key.get(), nullptr),
                                       EVP_PKEY_CTX_free);
  bool rsa = EVP_PKEY_is_a(key.get(), "RSA");
  if (verify == nullptr || EVP_PKEY_verify_init(verify.get()) != 1 ||
      (rsa && EVP_PKEY_CTX_set_rsa_padding(verify.get(), RSA_PKCS1_PADDING) !=
                  1) ||
      EVP_PKEY_CTX_set_signature_md(verify.get(), EVP_sha256()) != 1) {
    return Internal("cannot set up signature checks with the AK");
  }
  EnrolledAk ak{name,
                {ak_public.begin(), ak_public.end()},
                std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free),
                std::move(verify)};
  MutexLock lock(mutex_);
  by_host_[host.ToString()][name] = std::move(ak);
  return Status::Ok();
}

StatusOr<EnrolledAk> AkRegistry::Find(
    const pki::Identity& host, std::span<const std::uint8_t> name) const {
  std::vector<std::uint8_t> key(name.begin(), name.end());
  MutexLock lock(mutex_);
  auto h = by_host_.find(host.ToString());
  if (h != by_host_.end()) {
    auto a = h->second.find(key);
    if (a != h->second.end()) return a->second;
  }
  return Unauthenticated("AK " + ToHex(name) + " is not enrolled for " +
                         host.ToString());
}

namespace {

// "Later" in the order AdvanceClock enforces: reset count, then restart
// count, then clock.
bool Before(const TpmClockState& a, const TpmClockState& b) {
  if (a.reset_count != b.reset_count) return a.reset_count < b.reset_count;
  if (a.restart_count != b.restart_count) {
    return a.restart_count < b.restart_count;
  }
  return a.clock < b.clock;
}

}  // namespace

Status AkRegistry::AdvanceClock(std::span<const std::uint8_t> ak_name,
                                const TpmClockState& now,
                                std::uint64_t issued) {
  std::vector<std::uint8_t> key(ak_name.begin(), ak_name.end());
  bool recorded = false;
  {
    MutexLock lock(mutex_);
    ClockHistory& history = clocks_[key];
    // The floor: the latest state recorded before the quote's nonce.
    const TpmClockState* floor = nullptr;
    for (const auto& [sequence, state] : history.recorded) {
      if (sequence < issued) floor = &state;
    }
    if (floor == nullptr && history.floor_of_dropped.has_value()) {
      // Older than every state kept: the last dropped one is the best
      // lower bound left (it may refuse a quote that waited through 64
      // newer ones, never accept a rolled-back TPM).
      floor = &history.floor_of_dropped->second;
    }
    if (floor != nullptr) {
      const TpmClockState& last = *floor;
      if (now.reset_count < last.reset_count) {
        return Unauthenticated("TPM reset count went backwards (" +
                               std::to_string(now.reset_count) + " after " +
                               std::to_string(last.reset_count) + ")");
      }
      if (now.reset_count == last.reset_count) {
        if (now.restart_count < last.restart_count) {
          return Unauthenticated("TPM restart count went backwards (" +
                                 std::to_string(now.restart_count) + " after " +
                                 std::to_string(last.restart_count) + ")");
        }
        if (now.restart_count == last.restart_count && now.clock < last.clock) {
          return Unauthenticated("TPM clock went backwards (" +
                                 std::to_string(now.clock) + " after " +
                                 std::to_string(last.clock) + ")");
        }
      }
    }
    if (history.recorded.empty() ||
        Before(history.recorded.back().second, now)) {
      history.recorded.emplace_back(NextAttestationSequence(), now);
      if (history.recorded.size() > kClockHistory) {
        history.floor_of_dropped = history.recorded.front();
        history.recorded.erase(history.recorded.begin());
      }
      recorded = true;
    }
  }
  if (!recorded) return Status::Ok();  // an earlier quote verified late
  return sink_ ? sink_(ak_name, now) : Status::Ok();
}

void AkRegistry::RestoreClock(std::span<const std::uint8_t> ak_name,
                              const TpmClockState& state) {
  std::vector<std::uint8_t> key(ak_name.begin(), ak_name.end());
  MutexLock lock(mutex_);
  ClockHistory& history = clocks_[key];
  if (history.recorded.empty() ||
      Before(history.recorded.back().second, state)) {
    // Sequence 0: before every nonce of this process.
    history.recorded.assign(1, {0, state});
  }
}

}  // namespace tvd::attest
