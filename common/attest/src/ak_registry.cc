#include "tvd/attest/ak_registry.h"

#include "tvd/sha256.h"

namespace tvd::attest {

Status AkRegistry::Add(const pki::Identity& host,
                       std::span<const std::uint8_t> ak_public) {
  TVD_RETURN_IF_ERROR(CheckAttestationKey(ak_public));
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> name,
                       TpmObjectName(ak_public));
  TVD_ASSIGN_OR_RETURN(EvpPkeyPtr key, PublicKeyFromTpm(ak_public));
  EnrolledAk ak{name,
                {ak_public.begin(), ak_public.end()},
                std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free)};
  std::lock_guard lock(mutex_);
  by_host_[host.ToString()][name] = std::move(ak);
  return Status::Ok();
}

StatusOr<EnrolledAk> AkRegistry::Find(
    const pki::Identity& host, std::span<const std::uint8_t> name) const {
  std::vector<std::uint8_t> key(name.begin(), name.end());
  std::lock_guard lock(mutex_);
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
                                const TpmClockState& now) {
  std::vector<std::uint8_t> key(ak_name.begin(), ak_name.end());
  {
    std::lock_guard lock(mutex_);
    auto it = clocks_.find(key);
    if (it != clocks_.end()) {
      const TpmClockState& last = it->second;
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
    clocks_[key] = now;
  }
  return sink_ ? sink_(ak_name, now) : Status::Ok();
}

void AkRegistry::RestoreClock(std::span<const std::uint8_t> ak_name,
                              const TpmClockState& state) {
  std::vector<std::uint8_t> key(ak_name.begin(), ak_name.end());
  std::lock_guard lock(mutex_);
  auto it = clocks_.find(key);
  if (it == clocks_.end() || Before(it->second, state)) clocks_[key] = state;
}

}  // namespace tvd::attest
