// The few raw TPM 2.0 commands the guest attestation tool needs, marshalled
// and their responses parsed by hand: the tool runs in a guest with no
// libraries (a static binary in a busybox initramfs), so it cannot use
// tpm2-tss. Pure: bytes in, bytes or values out; no I/O, no allocation
// beyond the results.
//
// Every command uses the empty password session (TPM_RS_PW) where one is
// needed: the vTPM's endorsement hierarchy, its PCRs and its AK
// (vtpm_ak_template.h, userWithAuth) have empty auth values.
//
// Every Parse*Response refuses, with InvalidArgument naming the command and
// what is wrong, a response that is shorter than its header, longer than
// kMaxTpmResponse, whose header size differs from its length, whose tag is
// not the one the command asked for, or whose fields overrun or leave bytes
// over; a TPM error is FailedPrecondition "TPM2_<Command> failed: TPM
// response code 0x<rc>" (the code the TPM returned, in hex). Values come
// back exactly as the TPM marshalled them (TPM2B_PUBLIC, TPMS_ATTEST,
// TPMT_SIGNATURE), so the verifier checks the bytes the TPM signed.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "tvd/status.h"

namespace tvd::attest::tpmwire {

// The largest response the parsers accept (TPM_PT_MAX_RESPONSE_SIZE of
// common TPMs and of swtpm is 4096).
inline constexpr std::size_t kMaxTpmResponse = 4096;
// The largest TPM2B_DATA (qualifying data): sizeof(TPMT_HA) for SHA-512.
inline constexpr std::size_t kMaxQualifyingData = 64;
// PCRs of the SHA-256 bank a selection may name: 0-23.
inline constexpr std::uint32_t kPcrCount = 24;

using PcrDigest = std::array<std::uint8_t, 32>;

// TPM2_CreatePrimary under `hierarchy` (e.g. TPM_RH_ENDORSEMENT) with
// `in_public` (a TPM2B_PUBLIC, e.g. kVtpmAkTemplatePublic), empty sensitive
// data, no outside info, no creation PCRs.
std::vector<std::uint8_t> CreatePrimaryCommand(
    std::uint32_t hierarchy, std::span<const std::uint8_t> in_public);

struct CreatedPrimary {
  std::uint32_t handle = 0;
  // outPublic as a TPM2B_PUBLIC (its u16 size included).
  std::vector<std::uint8_t> public_area;
};
StatusOr<CreatedPrimary> ParseCreatePrimaryResponse(
    std::span<const std::uint8_t> response);

// TPM2_PCR_Extend of `pcr` (0-23) in the SHA-256 bank only.
// InvalidArgument "PCR N out of range 0-23".
StatusOr<std::vector<std::uint8_t>> PcrExtendCommand(std::uint32_t pcr,
                                                     const PcrDigest& digest);
Status ParsePcrExtendResponse(std::span<const std::uint8_t> response);

// TPM2_PCR_Read of `pcrs` (SHA-256 bank). A TPM returns at most 8 digests
// a call; the response says which (`pcrs` of PcrReadResult), and the caller
// asks again for the rest. InvalidArgument for an index out of range or an
// empty list.
StatusOr<std::vector<std::uint8_t>> PcrReadCommand(
    std::span<const std::uint32_t> pcrs);

struct PcrReadResult {
  std::uint32_t update_counter = 0;
  // The PCRs returned, ascending, and their values in the same order.
  std::vector<std::uint32_t> pcrs;
  std::vector<PcrDigest> values;
};
// Also refuses a selection of another bank than SHA-256, a digest count
// that differs from the selection, and a digest that is not 32 bytes.
StatusOr<PcrReadResult> ParsePcrReadResponse(
    std::span<const std::uint8_t> response);

// TPM2_Quote by `key` over `pcrs` (SHA-256 bank) with `qualifying_data`
// (at most kMaxQualifyingData bytes), in the key's own scheme.
StatusOr<std::vector<std::uint8_t>> QuoteCommand(
    std::uint32_t key, std::span<const std::uint8_t> qualifying_data,
    std::span<const std::uint32_t> pcrs);

struct QuoteResult {
  std::vector<std::uint8_t> attest;     // TPMS_ATTEST (TPM2B_ATTEST contents)
  std::vector<std::uint8_t> signature;  // TPMT_SIGNATURE
};
// Also refuses a signature algorithm other than ECDSA, RSASSA or RSAPSS
// ("signature algorithm 0x.... is not supported").
StatusOr<QuoteResult> ParseQuoteResponse(
    std::span<const std::uint8_t> response);

// TPM2_FlushContext of a transient `handle`.
std::vector<std::uint8_t> FlushContextCommand(std::uint32_t handle);
Status ParseFlushContextResponse(std::span<const std::uint8_t> response);

// True when `response` is a TPM warning that asks for the same command
// again: TPM_RC_RETRY (0x922), TPM_RC_YIELDED (0x908), TPM_RC_TESTING
// (0x90a). A TPM may answer so at any time (swtpm does for a quote now and
// then); tpm2-tss resends in that case, and so does the guest tool.
bool IsRetryResponse(std::span<const std::uint8_t> response);

// The response size a response header announces, for readers of a stream
// (swtpm's socket): InvalidArgument when `header` is shorter than 10 bytes
// or the size is below 10 or above kMaxTpmResponse.
StatusOr<std::size_t> ResponseSize(std::span<const std::uint8_t> header);

}  // namespace tvd::attest::tpmwire
