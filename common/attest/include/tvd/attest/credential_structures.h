// A MakeCredential challenge as the TPM structures TPM2_ActivateCredential
// takes (the host side: EsysTpm, and the tests' software TPM).
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include "tvd/attest/tpm.h"
#include "tvd/status.h"

namespace tvd::attest {

// Unmarshals both halves of `challenge`, each of which must be exactly one
// structure. InvalidArgument "credential blob does not unmarshal" /
// "encrypted secret does not unmarshal".
Status UnmarshalChallenge(const CredentialChallenge& challenge,
                          TPM2B_ID_OBJECT* blob,
                          TPM2B_ENCRYPTED_SECRET* secret);

}  // namespace tvd::attest
