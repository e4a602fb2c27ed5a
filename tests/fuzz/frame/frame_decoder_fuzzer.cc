// Fuzzes the frame decoder over a byte stream (as a receiver sees it: frame
// after frame), and every payload decoder of the attestation messages, so
// hostile peers can only produce errors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "tvd/attest/messages.h"
#include "tvd/channel/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd;
  std::span<const std::uint8_t> in(data, size);
  // A small maximum makes the size check reachable with small inputs.
  for (std::size_t max : {std::size_t{64}, channel::kDefaultMaxPayload}) {
    std::span<const std::uint8_t> rest = in;
    while (true) {
      channel::DecodeResult r = channel::DecodeFrame(rest, max);
      if (r.kind != channel::DecodeResult::Kind::kFrame) break;
      if (r.consumed < channel::kFrameHeaderSize || r.consumed > rest.size() ||
          r.frame.payload.size() > max) {
        std::abort();  // the decoder broke its contract
      }
      // Round trip: re-encoding the decoded frame gives the same bytes.
      auto again = channel::EncodeFrame(r.frame.type, r.frame.payload);
      if (again.size() != r.consumed ||
          !std::equal(again.begin(), again.end(), rest.begin())) {
        std::abort();
      }
      auto p = std::span<const std::uint8_t>(r.frame.payload);
      switch (r.frame.type) {
        case channel::MessageType::kError:
          (void)channel::DecodeErrorPayload(p);
          break;
        case channel::MessageType::kEnrolRequest:
          (void)attest::DecodeEnrolRequest(p);
          break;
        case channel::MessageType::kEnrolChallenge:
          (void)attest::DecodeCredentialChallenge(p);
          break;
        case channel::MessageType::kEnrolProof:
          (void)attest::DecodeEnrolProof(p);
          break;
        case channel::MessageType::kAttestChallenge:
          (void)attest::DecodeAttestChallenge(p);
          break;
        case channel::MessageType::kAttestEvidence:
          (void)attest::DecodeEvidence(p);
          break;
        default:
          break;
      }
      rest = rest.subspan(r.consumed);
    }
  }
  return 0;
}
