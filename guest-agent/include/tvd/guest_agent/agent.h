// The guest attestation agent: answers quote requests (guest_quote.h) that
// arrive as lines on the virtio-serial port /dev/virtio-ports/org.tvd.attest.0
// (docs/vtpm.md). Each request opens the vTPM anew, so a TPM hiccup costs
// one answer, not the agent.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::guest_agent {

// The answer line to one request line: a quote from the TPM `tpm_spec`, or
// an "error <reason>" line (a bad request, a TPM failure). Never fails.
std::string AnswerQuoteRequest(std::string_view line,
                               const std::string& tpm_spec);

// Reads request lines from `port` (opened read-write) and writes one answer
// line each, until `stop` is set or the port fails. A line longer than
// kMaxGuestLine is answered with an error and skipped to its newline. When
// nobody is connected on the host side the port reads end-of-file; the
// agent waits 100 ms and reads again. IoError naming the port when it
// cannot be opened.
Status ServeQuotes(const std::string& port, const std::string& tpm_spec,
                   const std::atomic<bool>& stop);

}  // namespace tvd::guest_agent
