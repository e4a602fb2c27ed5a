// The host's side of the guest quote exchange: one request line to the
// guest agent through the UNIX socket QEMU gives the VM's virtio-serial
// port org.tvd.attest.0 (libvirt: <channel type='unix'> with
// <target type='virtio' name='org.tvd.attest.0'/>), one answer line back.
// What the guest sends is hostile: the answer is read up to kMaxGuestLine
// bytes and parsed by ParseGuestQuoteAnswer. Used by the proxy's relay and
// the tests; blocking, one exchange per call.
#pragma once

#include <chrono>
#include <string>

#include "tvd/attest/guest_quote.h"
#include "tvd/status.h"

namespace tvd::attest {

// Unavailable "cannot connect to <socket>: <reason>" or "guest agent did
// not answer within N ms"; IoError when the connection fails midway;
// ParseGuestQuoteAnswer's errors for a bad answer (FailedPrecondition for
// the agent's own "error" line); InvalidArgument for a request the format
// refuses.
StatusOr<GuestQuoteAnswer> AskGuestForQuote(const std::string& socket,
                                            const GuestQuoteRequest& request,
                                            std::chrono::milliseconds timeout);

}  // namespace tvd::attest
