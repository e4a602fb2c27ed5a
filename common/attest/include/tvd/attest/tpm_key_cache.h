// Saved contexts of the primary keys an EsysTpm creates (the EK and the AK),
// kept in memory across openings of the TPM.
//
// Why: a process that opens its TPM per call (PerCallTpm, so that the
// proxies of one host take turns on it) would otherwise re-create each
// primary key on every call, and creating an RSA-2048 primary means
// searching for primes: about 35 ms on a software TPM, seconds on some
// hardware TPMs, and most of a join's latency. Loading a saved context costs
// the TPM a symmetric decryption.
//
// What is kept is what TPM2_ContextSave returns: the key's sensitive part
// encrypted and integrity-protected under the TPM's own context key, which
// no one outside the TPM can open or forge, and which the TPM refuses after
// a reset (the caller then creates the key again). Nothing is written to
// disk and nothing is persisted in the TPM's NV.
//
// Entries are keyed by the key's template (its marshalled TPM2B_PUBLIC), so
// one cache can serve EsysTpms with different AK options. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "tvd/mutex.h"

namespace tvd::attest {

struct SavedKey {
  std::vector<std::uint8_t> context;      // ESYS-serialised TPMS_CONTEXT
  std::vector<std::uint8_t> public_area;  // marshalled TPM2B_PUBLIC
};

class TpmKeyCache {
 public:
  std::optional<SavedKey> Find(const std::vector<std::uint8_t>& tmpl) const;
  void Keep(const std::vector<std::uint8_t>& tmpl, SavedKey key);
  // Drops an entry the TPM refused to load (after a TPM reset).
  void Forget(const std::vector<std::uint8_t>& tmpl);
  std::size_t size() const;

 private:
  mutable Mutex mu_;
  std::map<std::vector<std::uint8_t>, SavedKey> keys_ TVD_GUARDED_BY(mu_);
};

}  // namespace tvd::attest
