// Fuzzes everything that reads bytes from charon: segment framing, packet
// and message decoding. Anything decoded must re-encode and decode to the
// same message (the decoder accepts only what the encoder can produce).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "tvd/vswitch/vici/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::span<const std::uint8_t> in(data, size);

  // As a stream of segments, fed in two uneven pieces.
  tvd::vici::SegmentReader reader;
  reader.Append(in.first(size / 3));
  reader.Append(in.subspan(size / 3));
  for (;;) {
    auto next = reader.Next();
    if (!next.ok() || !next->has_value()) break;
    (void)tvd::vici::DecodePacket((*next)->view());
  }

  // As one packet.
  auto packet = tvd::vici::DecodePacket(in);
  if (packet.ok()) {
    auto again = tvd::vici::EncodeSegment(*packet);
    if (!again.ok()) std::abort();
    auto back = tvd::vici::DecodePacket(again->view().subspan(4));
    if (!back.ok() || !(back->message == packet->message) ||
        back->name != packet->name || back->type != packet->type) {
      std::abort();
    }
  }

  // As a bare message.
  auto message = tvd::vici::DecodeMessage(in);
  if (message.ok()) {
    auto enc = tvd::vici::EncodeMessage(*message);
    if (!enc.ok()) std::abort();
    auto back = tvd::vici::DecodeMessage(enc->view());
    if (!back.ok() || !(*back == *message)) std::abort();
  }
  return 0;
}
