// The one-line exchange between a host-side relay and the guest attestation
// agent (tvd-guest-attest serve) on the virtio-serial port
// org.tvd.attest.0 (docs/vtpm.md):
//
//   request:  "quote <nonce hex> <pcr>[,<pcr>...]\n"
//   answer:   "ok <AK TPM2B_PUBLIC hex> <TPMS_ATTEST hex> <TPMT_SIGNATURE hex>
//              <pcr>=<sha256 hex>[,<pcr>=<sha256 hex>...]\n"
//          or "error <text>\n"
//
// Hex is lower case; PCRs (SHA-256 bank) are 0-23, ascending, each once;
// the nonce is 16-64 bytes and is the quote's qualifying data as is. The
// answer's PCR values are the ones the quote digested (the agent read them
// before and after the quote with the same update counter).
//
// Both sides parse what the other sends as hostile: every Parse* refuses a
// line over kMaxGuestLine, a missing or extra field, bad hex, a structure
// over kMaxTpmStructure bytes, or a PCR list out of range, out of order or
// repeated, with InvalidArgument "guest quote <request|answer>: <what>".
// Pure: no I/O, no TSS (the guest agent is a static binary).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/attest/tpm_wire.h"
#include "tvd/status.h"

namespace tvd::attest {

// A whole line, newline included. An answer carries three structures of
// at most kMaxGuestStructure bytes each as hex plus 24 PCRs.
inline constexpr std::size_t kMaxGuestStructure = 4096;
// The virtio-serial port name (libvirt <channel><target name=...>).
inline constexpr char kGuestAttestPort[] = "org.tvd.attest.0";
inline constexpr std::size_t kMaxGuestLine = 32 * 1024;
inline constexpr std::size_t kMinGuestNonce = 16;
inline constexpr std::size_t kMaxGuestNonce = 64;
// The longest error text an answer carries; longer ones are cut.
inline constexpr std::size_t kMaxGuestError = 512;

struct GuestQuoteRequest {
  std::vector<std::uint8_t> nonce;
  std::vector<std::uint32_t> pcrs;
};

struct GuestPcr {
  std::uint32_t index = 0;
  tpmwire::PcrDigest value{};
  friend bool operator==(const GuestPcr&, const GuestPcr&) = default;
};

struct GuestQuoteAnswer {
  std::vector<std::uint8_t> ak_public;  // TPM2B_PUBLIC
  std::vector<std::uint8_t> attest;     // TPMS_ATTEST
  std::vector<std::uint8_t> signature;  // TPMT_SIGNATURE
  std::vector<GuestPcr> pcrs;
};

// InvalidArgument "nonce of N bytes; it must be 16-64" unless the nonce
// has kMinGuestNonce to kMaxGuestNonce bytes (the deep-quote statement's
// nonce is the same).
Status CheckGuestNonce(std::span<const std::uint8_t> nonce);

// InvalidArgument for a nonce or PCR list the parser would refuse.
StatusOr<std::string> FormatGuestQuoteRequest(const GuestQuoteRequest& r);
StatusOr<GuestQuoteRequest> ParseGuestQuoteRequest(std::string_view line);

// InvalidArgument for an answer the parser would refuse.
StatusOr<std::string> FormatGuestQuoteAnswer(const GuestQuoteAnswer& a);
// "error <text>\n" with `text` cut to kMaxGuestError and every byte
// outside printable ASCII replaced by '?'.
std::string FormatGuestQuoteError(std::string_view text);
// An "error" line becomes FailedPrecondition "guest agent: <text>".
StatusOr<GuestQuoteAnswer> ParseGuestQuoteAnswer(std::string_view line);

// "N,N,..." (0-23, ascending, each once, at least one), as on the tool's
// command line; InvalidArgument "PCR list '<text>': <what>".
StatusOr<std::vector<std::uint32_t>> ParsePcrList(std::string_view text);
std::string FormatPcrList(std::span<const std::uint32_t> pcrs);

}  // namespace tvd::attest
