#include "tvd/attest/esys_tpm.h"

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "tvd/attest/credential_structures.h"
#include "tvd/attest/vtpm_ak_template.h"

namespace tvd::attest {
namespace {

std::string RcText(TSS2_RC rc) {
  const char* text = Tss2_RC_Decode(rc);
  return text != nullptr ? text : ("TSS2 error " + std::to_string(rc));
}

Status TpmError(const std::string& what, TSS2_RC rc) {
  return Unavailable(what + ": " + RcText(rc));
}

// Frees ESYS-allocated outputs.
template <typename T>
struct EsysOut {
  T* p = nullptr;
  ~EsysOut() { Esys_Free(p); }
  T** operator&() { return &p; }
  T* operator->() { return p; }
};

// TCG EK Credential Profile, policy A: PolicySecret(TPM_RH_ENDORSEMENT).
constexpr std::uint8_t kEkPolicyA[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
    0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
    0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

TPM2B_PUBLIC EkTemplate() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
                       TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = sizeof kEkPolicyA;
  std::memcpy(p.authPolicy.buffer, kEkPolicyA, sizeof kEkPolicyA);
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;
  p.unique.rsa.size = 256;  // zeros, as the profile specifies
  return t;
}

TPM2B_PUBLIC AkTemplate(AkAlgorithm alg, const std::string& label) {
  TPM2B_PUBLIC t{};
  if (alg == AkAlgorithm::kVtpm) {
    // The bytes the guest tool sends as they are; a constant that
    // unmarshals (vtpm_ak_template_test), so a failure cannot happen.
    std::size_t offset = 0;
    (void)Tss2_MU_TPM2B_PUBLIC_Unmarshal(kVtpmAkTemplatePublic.data(),
                                         kVtpmAkTemplatePublic.size(),
                                         &offset, &t);
    return t;
  }
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
                       TPMA_OBJECT_SIGN_ENCRYPT;
  Sha256Digest unique = Sha256(label);
  if (alg == AkAlgorithm::kRsa2048) {
    p.type = TPM2_ALG_RSA;
    p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.rsaDetail.keyBits = 2048;
    p.unique.rsa.size = unique.size();
    std::memcpy(p.unique.rsa.buffer, unique.data(), unique.size());
  } else {
    p.type = TPM2_ALG_ECC;
    p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = unique.size();
    std::memcpy(p.unique.ecc.x.buffer, unique.data(), unique.size());
  }
  return t;
}

StatusOr<std::vector<std::uint8_t>> MarshalPublic(const TPM2B_PUBLIC& pub) {
  std::vector<std::uint8_t> out(sizeof(TPM2B_PUBLIC));
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &off);
  if (rc != TSS2_RC_SUCCESS) return Internal("cannot marshal public area");
  out.resize(off);
  return out;
}

StatusOr<TPML_PCR_SELECTION> Selection(std::span<const std::uint32_t> pcrs) {
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  for (std::uint32_t i : pcrs) {
    if (i >= 24)
      return InvalidArgument("PCR index " + std::to_string(i) +
                             " out of range 0-23");
    sel.pcrSelections[0].pcrSelect[i / 8] |= static_cast<BYTE>(1u << (i % 8));
  }
  return sel;
}

Status CreatePrimary(ESYS_CONTEXT* esys, const TPM2B_PUBLIC& tmpl,
                     ESYS_TR* handle, std::vector<std::uint8_t>* public_area,
                     const char* what) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcr{};
  EsysOut<TPM2B_PUBLIC> out_public;
  EsysOut<TPM2B_CREATION_DATA> creation_data;
  EsysOut<TPM2B_DIGEST> creation_hash;
  EsysOut<TPMT_TK_CREATION> creation_ticket;
  TSS2_RC rc = Esys_CreatePrimary(
      esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
      ESYS_TR_NONE, &sensitive, &tmpl, &outside, &creation_pcr, handle,
      &out_public, &creation_data, &creation_hash, &creation_ticket);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(std::string("cannot create ") + what, rc);
  }
  TVD_ASSIGN_OR_RETURN(*public_area, MarshalPublic(*out_public.p));
  return Status::Ok();
}

// The key of `tmpl` loaded from `cache` when it holds one the TPM accepts,
// else created (and saved in `cache`, when there is one). A saved context
// the TPM refuses (it was reset since) is forgotten and the key re-created.
Status LoadOrCreate(ESYS_CONTEXT* esys, TpmKeyCache* cache,
                    const TPM2B_PUBLIC& tmpl, ESYS_TR* handle,
                    std::vector<std::uint8_t>* public_area, const char* what) {
  if (cache == nullptr) {
    return CreatePrimary(esys, tmpl, handle, public_area, what);
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> key, MarshalPublic(tmpl));
  if (std::optional<SavedKey> saved = cache->Find(key)) {
    TPMS_CONTEXT context{};
    size_t off = 0;
    if (Tss2_MU_TPMS_CONTEXT_Unmarshal(saved->context.data(),
                                       saved->context.size(), &off,
                                       &context) == TSS2_RC_SUCCESS &&
        off == saved->context.size() &&
        Esys_ContextLoad(esys, &context, handle) == TSS2_RC_SUCCESS) {
      *public_area = std::move(saved->public_area);
      return Status::Ok();
    }
    cache->Forget(key);
  }
  TVD_RETURN_IF_ERROR(CreatePrimary(esys, tmpl, handle, public_area, what));
  // TPM2_ContextSave leaves an object loaded; a key that cannot be saved is
  // still good for this opening, only not kept.
  EsysOut<TPMS_CONTEXT> context;
  if (Esys_ContextSave(esys, *handle, &context) == TSS2_RC_SUCCESS) {
    std::vector<std::uint8_t> blob(sizeof(TPMS_CONTEXT));
    size_t off = 0;
    if (Tss2_MU_TPMS_CONTEXT_Marshal(context.p, blob.data(), blob.size(),
                                     &off) == TSS2_RC_SUCCESS) {
      blob.resize(off);
      cache->Keep(key, SavedKey{std::move(blob), *public_area});
    }
  }
  return Status::Ok();
}

}  // namespace

struct EsysTpm::Impl {
  EsysTpmOptions options;
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ESYS_CONTEXT* esys = nullptr;
  ESYS_TR ek = ESYS_TR_NONE;
  ESYS_TR ak = ESYS_TR_NONE;
  std::vector<std::uint8_t> ek_public;
  std::vector<std::uint8_t> ak_public;

  ~Impl() {
    if (esys != nullptr) {
      if (ek != ESYS_TR_NONE) Esys_FlushContext(esys, ek);
      if (ak != ESYS_TR_NONE) Esys_FlushContext(esys, ak);
      Esys_Finalize(&esys);
    }
    if (tcti != nullptr) Tss2_TctiLdr_Finalize(&tcti);
  }
};

EsysTpm::EsysTpm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EsysTpm::~EsysTpm() = default;

StatusOr<std::unique_ptr<EsysTpm>> EsysTpm::Open(
    const EsysTpmOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(options.tcti.c_str(), &impl->tcti);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("cannot open TCTI '" + options.tcti + "'", rc);
  }
  rc = Esys_Initialize(&impl->esys, impl->tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("cannot initialise ESYS on '" + options.tcti + "'", rc);
  }
  // A TPM that was never started (a fresh simulator) needs Startup; one that
  // was answers TPM_RC_INITIALIZE, which is fine.
  rc = Esys_Startup(impl->esys, TPM2_SU_CLEAR);
  if (rc != TSS2_RC_SUCCESS && (rc & 0xfff) != TPM2_RC_INITIALIZE) {
    return TpmError("TPM on '" + options.tcti + "' does not start", rc);
  }
  return std::unique_ptr<EsysTpm>(new EsysTpm(std::move(impl)));
}

Status EsysTpm::EnsureEk() {
  if (impl_->ek != ESYS_TR_NONE) return Status::Ok();
  return LoadOrCreate(impl_->esys, impl_->options.key_cache.get(), EkTemplate(),
                      &impl_->ek, &impl_->ek_public, "endorsement key");
}

Status EsysTpm::EnsureAk() {
  if (impl_->ak != ESYS_TR_NONE) return Status::Ok();
  return LoadOrCreate(
      impl_->esys, impl_->options.key_cache.get(),
      AkTemplate(impl_->options.ak_algorithm, impl_->options.ak_label),
      &impl_->ak, &impl_->ak_public, "attestation key");
}

StatusOr<std::vector<std::uint8_t>> EsysTpm::EkPublic() {
  TVD_RETURN_IF_ERROR(EnsureEk());
  return impl_->ek_public;
}

StatusOr<std::vector<std::uint8_t>> EsysTpm::AkPublic() {
  TVD_RETURN_IF_ERROR(EnsureAk());
  return impl_->ak_public;
}

StatusOr<SecureBytes> EsysTpm::ActivateCredential(
    const CredentialChallenge& challenge) {
  TVD_RETURN_IF_ERROR(EnsureEk());
  TVD_RETURN_IF_ERROR(EnsureAk());
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  TVD_RETURN_IF_ERROR(UnmarshalChallenge(challenge, &blob, &secret));
  // The EK may only be used under its policy: PolicySecret(endorsement).
  ESYS_TR session = ESYS_TR_NONE;
  TPMT_SYM_DEF sym{};
  sym.algorithm = TPM2_ALG_NULL;
  TSS2_RC rc = Esys_StartAuthSession(
      impl_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
      ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session);
  if (rc != TSS2_RC_SUCCESS)
    return TpmError("cannot start EK policy session", rc);
  {
    EsysOut<TPM2B_TIMEOUT> timeout;
    EsysOut<TPMT_TK_AUTH> ticket;
    rc = Esys_PolicySecret(impl_->esys, ESYS_TR_RH_ENDORSEMENT, session,
                           ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           nullptr, nullptr, nullptr, 0, &timeout, &ticket);
  }
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(impl_->esys, session);
    return TpmError("EK policy (PolicySecret endorsement) failed", rc);
  }
  EsysOut<TPM2B_DIGEST> cert_info;
  rc = Esys_ActivateCredential(impl_->esys, impl_->ak, impl_->ek,
                               ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob,
                               &secret, &cert_info);
  Esys_FlushContext(impl_->esys, session);
  if (rc != TSS2_RC_SUCCESS) {
    return PermissionDenied("TPM refused ActivateCredential: " + RcText(rc));
  }
  SecureBytes out(
      std::span<const std::uint8_t>(cert_info->buffer, cert_info->size));
  OPENSSL_cleanse(cert_info->buffer, cert_info->size);
  return out;
}

StatusOr<QuoteOutput> EsysTpm::Quote(std::span<const std::uint32_t> pcrs,
                                     const Sha256Digest& qualifying_data) {
  TVD_RETURN_IF_ERROR(EnsureAk());
  TVD_ASSIGN_OR_RETURN(TPML_PCR_SELECTION sel, Selection(pcrs));
  TPM2B_DATA qd{};
  qd.size = qualifying_data.size();
  std::memcpy(qd.buffer, qualifying_data.data(), qualifying_data.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme
  EsysOut<TPM2B_ATTEST> quoted;
  EsysOut<TPMT_SIGNATURE> signature;
  TSS2_RC rc =
      Esys_Quote(impl_->esys, impl_->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                 ESYS_TR_NONE, &qd, &scheme, &sel, &quoted, &signature);
  if (rc != TSS2_RC_SUCCESS) return TpmError("TPM quote failed", rc);
  QuoteOutput out;
  out.attest.assign(quoted->attestationData,
                    quoted->attestationData + quoted->size);
  out.signature.resize(sizeof(TPMT_SIGNATURE));
  size_t off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(signature.p, out.signature.data(),
                                     out.signature.size(),
                                     &off) != TSS2_RC_SUCCESS) {
    return Internal("cannot marshal quote signature");
  }
  out.signature.resize(off);
  return out;
}

StatusOr<std::vector<PcrValue>> EsysTpm::ReadPcrs(
    std::span<const std::uint32_t> pcrs) {
  std::vector<std::uint32_t> left(pcrs.begin(), pcrs.end());
  std::vector<PcrValue> got;
  // TPM2_PCR_Read returns at most 8 digests per call: ask until all came.
  for (int attempt = 0; !left.empty() && attempt < 8; ++attempt) {
    TVD_ASSIGN_OR_RETURN(TPML_PCR_SELECTION sel, Selection(left));
    UINT32 update_counter = 0;
    EsysOut<TPML_PCR_SELECTION> sel_out;
    EsysOut<TPML_DIGEST> values;
    TSS2_RC rc =
        Esys_PCR_Read(impl_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                      &sel, &update_counter, &sel_out, &values);
    if (rc != TSS2_RC_SUCCESS) return TpmError("cannot read PCRs", rc);
    std::size_t next = 0;
    for (std::uint32_t i = 0; i < 24 && sel_out->count > 0; ++i) {
      const TPMS_PCR_SELECTION& s = sel_out->pcrSelections[0];
      if (!(s.pcrSelect[i / 8] & (1u << (i % 8)))) continue;
      if (next >= values->count || values->digests[next].size != 32) {
        return Internal("TPM returned a malformed PCR read");
      }
      PcrValue v;
      v.index = i;
      std::memcpy(v.value.data(), values->digests[next].buffer, 32);
      ++next;
      got.push_back(v);
      left.erase(std::remove(left.begin(), left.end(), i), left.end());
    }
    if (next == 0) break;
  }
  if (!left.empty()) {
    return Unavailable("TPM did not return PCR " + std::to_string(left[0]));
  }
  std::vector<PcrValue> ordered;
  for (std::uint32_t i : pcrs) {
    auto it = std::find_if(got.begin(), got.end(),
                           [i](const PcrValue& v) { return v.index == i; });
    ordered.push_back(*it);
  }
  return ordered;
}

Status EsysTpm::ExtendPcr(std::uint32_t pcr, const Sha256Digest& digest) {
  if (pcr >= 24) return InvalidArgument("PCR index out of range");
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, digest.data(), digest.size());
  TSS2_RC rc =
      Esys_PCR_Extend(impl_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
                      ESYS_TR_NONE, ESYS_TR_NONE, &values);
  if (rc != TSS2_RC_SUCCESS) return TpmError("cannot extend PCR", rc);
  return Status::Ok();
}

Status EsysTpm::ResetPcr(std::uint32_t pcr) {
  if (pcr != 16 && pcr != 23) {
    return InvalidArgument("only PCR 16 and 23 are resettable");
  }
  TSS2_RC rc = Esys_PCR_Reset(impl_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, ESYS_TR_NONE);
  if (rc != TSS2_RC_SUCCESS) return TpmError("cannot reset PCR", rc);
  return Status::Ok();
}

}  // namespace tvd::attest
