// A Tpm that holds no connection between calls: each call opens the TPM
// (through `open`), does its work and closes it again, one call at a time.
//
// Why: several proxies on one host attest with the same TPM. A resource
// manager (/dev/tpmrm0) lets them all keep connections open, but a TPM that
// serves one connection at a time (/dev/tpm0, a software TPM socket) would
// block every proxy but the first for as long as that one lives. Opening
// per call makes them take turns instead. The EK and AK are primary keys
// recreated from the TPM's seeds, so every call sees the same keys.
//
// Thread-safe (calls are serialised). Each call returns what the opened
// TPM returned, or the error of opening it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "tvd/attest/tpm.h"
#include "tvd/mutex.h"

namespace tvd::proxy {

class PerCallTpm : public attest::Tpm {
 public:
  using Opener = std::function<StatusOr<std::unique_ptr<attest::Tpm>>()>;
  explicit PerCallTpm(Opener open) : open_(std::move(open)) {}

  StatusOr<std::vector<std::uint8_t>> EkPublic() override;
  StatusOr<std::vector<std::uint8_t>> AkPublic() override;
  StatusOr<SecureBytes> ActivateCredential(
      const attest::CredentialChallenge& challenge) override;
  StatusOr<attest::QuoteOutput> Quote(
      std::span<const std::uint32_t> pcrs,
      const Sha256Digest& qualifying_data) override;
  StatusOr<std::vector<attest::PcrValue>> ReadPcrs(
      std::span<const std::uint32_t> pcrs) override;

 private:
  template <typename Fn>
  auto WithTpm(Fn fn) -> decltype(fn(std::declval<attest::Tpm&>()));

  Opener open_;
  // Held over each call: one TPM session at a time (the opener's device
  // or simulator serves one).
  Mutex mu_;
};

}  // namespace tvd::proxy
