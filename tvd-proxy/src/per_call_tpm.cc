#include "tvd/proxy/per_call_tpm.h"

#include "tvd/mutex.h"

namespace tvd::proxy {

template <typename Fn>
auto PerCallTpm::WithTpm(Fn fn) -> decltype(fn(std::declval<attest::Tpm&>())) {
  MutexLock lock(mu_);
  auto tpm = open_();
  if (!tpm.ok()) return tpm.status();
  // The connection closes when `tpm` goes out of scope, before the next
  // caller (in this process or another) gets its turn.
  return fn(**tpm);
}

StatusOr<std::vector<std::uint8_t>> PerCallTpm::EkPublic() {
  return WithTpm([](attest::Tpm& t) { return t.EkPublic(); });
}

StatusOr<std::vector<std::uint8_t>> PerCallTpm::AkPublic() {
  return WithTpm([](attest::Tpm& t) { return t.AkPublic(); });
}

StatusOr<SecureBytes> PerCallTpm::ActivateCredential(
    const attest::CredentialChallenge& challenge) {
  return WithTpm(
      [&](attest::Tpm& t) { return t.ActivateCredential(challenge); });
}

StatusOr<attest::QuoteOutput> PerCallTpm::Quote(
    std::span<const std::uint32_t> pcrs, const Sha256Digest& qualifying_data) {
  return WithTpm(
      [&](attest::Tpm& t) { return t.Quote(pcrs, qualifying_data); });
}

StatusOr<std::vector<attest::PcrValue>> PerCallTpm::ReadPcrs(
    std::span<const std::uint32_t> pcrs) {
  return WithTpm([&](attest::Tpm& t) { return t.ReadPcrs(pcrs); });
}

}  // namespace tvd::proxy
