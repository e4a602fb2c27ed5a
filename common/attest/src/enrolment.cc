#include "tvd/attest/enrolment.h"

#include "tvd/attest/credential.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/mutex.h"

namespace tvd::attest {

void AkEnroller::TrustEk(const pki::Identity& host,
                         const Sha256Digest& ek_digest) {
  MutexLock lock(mutex_);
  trusted_eks_[host.ToString()].insert(ek_digest);
}

StatusOr<std::pair<CredentialChallenge, AkEnroller::Pending>> AkEnroller::Begin(
    const pki::Identity& host, const EnrolRequest& request) const {
  {
    Sha256Digest digest = Sha256(request.ek_public);
    MutexLock lock(mutex_);
    auto it = trusted_eks_.find(host.ToString());
    if (it == trusted_eks_.end() || it->second.count(digest) == 0) {
      return Unauthenticated("EK " + ToHex(digest) + " is not trusted for " +
                             host.ToString());
    }
  }
  TVD_RETURN_IF_ERROR(CheckEndorsementKey(request.ek_public));
  TVD_RETURN_IF_ERROR(CheckAttestationKey(request.ak_public));
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> ak_name,
                       TpmObjectName(request.ak_public));
  Pending pending{host, request.ak_public, SecureBytes::Random(32)};
  TVD_ASSIGN_OR_RETURN(
      CredentialChallenge challenge,
      MakeCredential(request.ek_public, ak_name, pending.secret.view()));
  return std::make_pair(std::move(challenge), std::move(pending));
}

Status AkEnroller::Finish(Pending pending, const EnrolProof& proof) {
  if (proof.secret.size() != pending.secret.size() ||
      !pending.secret.Equals(proof.secret.view())) {
    return Unauthenticated("credential activation proof does not match");
  }
  return aks_.Add(pending.host, pending.ak_public);
}

}  // namespace tvd::attest
