// The guest's side of the deep quote: the VM's vTPM driven with raw TPM 2.0
// commands (tpm_wire.h) over a file descriptor, so the tool is one static
// binary with no TSS (the test guest is a busybox initramfs).
//
// A TPM is named by a string:
//   "/dev/tpmrm0", "/dev/tpm0"     the guest's TPM device (one write, one read)
//   "tcp:127.0.0.1:PORT"           the data socket of `swtpm socket` (tests,
//                                  the benchmark): a byte stream
// Each VtpmClient holds one open connection; swtpm serves one at a time.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tvd/attest/guest_quote.h"
#include "tvd/attest/tpm_wire.h"
#include "tvd/status.h"
#include "tvd/unique_fd.h"

namespace tvd::guest_agent {

// Sends one command and returns its whole response.
class TpmTransport {
 public:
  virtual ~TpmTransport() = default;
  virtual StatusOr<std::vector<std::uint8_t>> Transmit(
      std::span<const std::uint8_t> command) = 0;
};

// Opens the TPM named by `spec` (see above). InvalidArgument for a spec of
// another form; IoError naming the spec when it cannot be opened.
StatusOr<std::unique_ptr<TpmTransport>> OpenTpm(const std::string& spec);

class VtpmClient {
 public:
  explicit VtpmClient(std::unique_ptr<TpmTransport> tpm)
      : tpm_(std::move(tpm)) {}

  // The AK of vtpm_ak_template.h, created in the endorsement hierarchy and
  // flushed again: its TPM2B_PUBLIC.
  StatusOr<std::vector<std::uint8_t>> AkPublic();
  // Extends `pcr` in the SHA-256 bank.
  Status Extend(std::uint32_t pcr, const attest::tpmwire::PcrDigest& digest);
  // The values of `pcrs` (ascending, each once) and the PCR update counter
  // they were read at.
  StatusOr<std::vector<attest::GuestPcr>> ReadPcrs(
      std::span<const std::uint32_t> pcrs, std::uint32_t* update_counter);
  // A quote by the AK over `pcrs` with `nonce` as qualifying data, with the
  // values it digested: the PCRs are read before and after the quote and
  // the quote is retried (3 times, then FailedPrecondition "PCRs kept
  // changing during the quote") when the update counter moved between.
  StatusOr<attest::GuestQuoteAnswer> Quote(std::span<const std::uint8_t> nonce,
                                           std::span<const std::uint32_t> pcrs);

 private:
  // Transmit, resending (up to 20 times, 10 ms apart) while the TPM asks
  // for a retry (tpmwire::IsRetryResponse).
  StatusOr<std::vector<std::uint8_t>> Call(
      std::span<const std::uint8_t> command);

  std::unique_ptr<TpmTransport> tpm_;
};

}  // namespace tvd::guest_agent
