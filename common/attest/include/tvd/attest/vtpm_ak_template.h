// The one template of a VM's vTPM attestation key (AK): the single place
// where the proxy (which creates the vTPM state and records the AK public at
// the master) and the guest quote tool (which re-creates the key at every
// quote) agree on it. Both run TPM2_CreatePrimary in the vTPM's endorsement
// hierarchy with exactly these bytes as inPublic; a primary key is derived
// from the hierarchy seed and the template, so the same vTPM gives the same
// key every time, and nothing has to be persisted in the vTPM's NV or in the
// guest.
//
// The key: ECC NIST P-256, ECDSA-SHA256, nameAlg SHA-256, attributes
// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted |
// sign, empty authPolicy, no symmetric, KDF NULL, empty unique.
//
// Why ECC P-256 and not RSA-2048: the guest re-creates the key for every
// quote, and a primary RSA key costs a prime search from the seed (hundreds
// of milliseconds to seconds in swtpm/libtpms, more in a guest under load),
// an ECC key a scalar multiplication (about a millisecond); the public area
// and the signature are also a quarter of the size in the evidence. Both
// are accepted by CheckAttestationKey (tpm_public.h), so the verifier needs
// nothing new.
//
// Why restricted: a restricted signing key signs only digests the TPM
// produced itself (quotes, certifications) or that it hashed and found not
// to start with TPM_GENERATED_VALUE, so nobody holding the guest's TPM, not
// even root in the guest, can make it sign a forged TPMS_ATTEST. That is
// why userWithAuth with an empty auth value is safe: anyone who can use the
// vTPM may quote, nobody can forge a quote. Empty unique: the vTPM is the
// VM's own, so there is no other AK to keep apart (the host TPM's AK puts a
// label in unique because several users share it).
//
// Header-only, no TSS dependency: the guest tool is a static binary that
// marshals TPM commands itself; ESYS users unmarshal kVtpmAkTemplatePublic
// with Tss2_MU_TPM2B_PUBLIC_Unmarshal.
#pragma once

#include <array>
#include <cstdint>

namespace tvd::attest {

// TPMT_PUBLIC, TPM 2.0 marshalled (big-endian), field by field.
inline constexpr std::array<std::uint8_t, 24> kVtpmAkTemplate = {
    0x00, 0x23,              // type: TPM_ALG_ECC
    0x00, 0x0b,              // nameAlg: TPM_ALG_SHA256
    0x00, 0x05, 0x00, 0x72,  // objectAttributes: fixedTPM (1<<1) |
                             // fixedParent (1<<4) | sensitiveDataOrigin
                             // (1<<5) | userWithAuth (1<<6) | restricted
                             // (1<<16) | sign (1<<18)
    0x00, 0x00,              // authPolicy: empty TPM2B_DIGEST
    0x00, 0x10,              // parameters.symmetric: TPM_ALG_NULL
    0x00, 0x18,              // parameters.scheme: TPM_ALG_ECDSA
    0x00, 0x0b,              //   hashAlg: TPM_ALG_SHA256
    0x00, 0x03,              // parameters.curveID: TPM_ECC_NIST_P256
    0x00, 0x10,              // parameters.kdf: TPM_ALG_NULL
    0x00, 0x00,              // unique.x: empty
    0x00, 0x00,              // unique.y: empty
};

// The same as a TPM2B_PUBLIC (u16 size, then the TPMT_PUBLIC): what
// TPM2_CreatePrimary takes as inPublic.
inline constexpr std::array<std::uint8_t, 2 + kVtpmAkTemplate.size()>
    kVtpmAkTemplatePublic = [] {
      std::array<std::uint8_t, 2 + kVtpmAkTemplate.size()> out{};
      out[0] = 0;
      out[1] = static_cast<std::uint8_t>(kVtpmAkTemplate.size());
      for (std::size_t i = 0; i < kVtpmAkTemplate.size(); ++i) {
        out[2 + i] = kVtpmAkTemplate[i];
      }
      return out;
    }();

// The hierarchy the AK lives in: TPM_RH_ENDORSEMENT, with the empty
// password a fresh vTPM has (the proxy leaves the endorsement auth unset).
inline constexpr std::uint32_t kVtpmAkHierarchy = 0x4000000B;

// PCR bank the deep quote covers: SHA-256 (TPM_ALG_SHA256).
inline constexpr std::uint16_t kVtpmQuoteBank = 0x000B;

}  // namespace tvd::attest
