// AK enrolment, master side: binds a host's AK to its EK.
//
// Begin() checks the EK is one the master trusts for this host and the AK is
// an attestation key, then makes a credential (software MakeCredential) only
// the TPM holding that EK can open, and only for that AK. Finish() compares
// the secret the host got back from ActivateCredential (constant time) and
// records the AK for the host in the AkRegistry.
//
// Which EKs are trusted: EK certificates from the TPM vendor are not checked
// here; the master is given the SHA-256 of each host's EK public area (read
// at provisioning) via TrustEk(). An EK that is not trusted is refused.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "tvd/attest/ak_registry.h"
#include "tvd/attest/messages.h"
#include "tvd/mutex.h"
#include "tvd/pki/identity.h"
#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"

namespace tvd::attest {

class AkEnroller {
 public:
  explicit AkEnroller(AkRegistry& aks) : aks_(aks) {}

  // Trusts the EK whose TPM2B_PUBLIC hashes to `ek_digest` for `host`.
  void TrustEk(const pki::Identity& host, const Sha256Digest& ek_digest);

  // One enrolment in progress, owned by the connection that runs it.
  struct Pending {
    pki::Identity host;
    std::vector<std::uint8_t> ak_public;
    SecureBytes secret;
  };

  // Unauthenticated "EK is not trusted for <host>"; InvalidArgument for a
  // public area that is not an EK/AK.
  StatusOr<std::pair<CredentialChallenge, Pending>> Begin(
      const pki::Identity& host, const EnrolRequest& request) const;

  // Unauthenticated "credential activation proof does not match" on a wrong
  // secret.
  Status Finish(Pending pending, const EnrolProof& proof);

 private:
  AkRegistry& aks_;
  mutable Mutex mutex_;
  std::map<std::string, std::set<Sha256Digest>> trusted_eks_
      TVD_GUARDED_BY(mutex_);
};

}  // namespace tvd::attest
