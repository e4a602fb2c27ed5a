// Fuzzes the frame decoder over a byte stream (as a receiver sees it: frame
// after frame), and every payload decoder of the attestation messages, so
// hostile peers can only produce errors. What decodes must re-encode to the
// same bytes (the encodings are canonical), and IMA chunk frames are
// appended to the last evidence as the master does (AppendImaChunk must
// either take the whole chunk or change nothing).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>

#include "tvd/attest/messages.h"
#include "tvd/channel/frame.h"

namespace {

void SameBytes(const std::vector<std::uint8_t>& again,
               std::span<const std::uint8_t> payload) {
  if (again.size() != payload.size() ||
      !std::equal(again.begin(), again.end(), payload.begin())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd;
  std::span<const std::uint8_t> in(data, size);
  // A small maximum makes the size check reachable with small inputs.
  for (std::size_t max : {std::size_t{64}, channel::kDefaultMaxPayload}) {
    // The evidence chunk frames are appended to: the last one decoded, or,
    // when it was complete, a stand-in still expecting 64 bytes (a real
    // continuation needs a first part of kImaChunk bytes, too large for a
    // useful fuzz input).
    std::optional<attest::Evidence> open;
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
        case channel::MessageType::kAttestChallenge: {
          auto c = attest::DecodeAttestChallenge(p);
          if (c.ok()) SameBytes(attest::Encode(*c), p);
          break;
        }
        case channel::MessageType::kAttestEvidence: {
          auto e = attest::DecodeEvidence(p);
          if (!e.ok()) break;
          if (e->ima_offset > e->ima_entries) std::abort();
          if (e->ima_log.size() + e->ima_log_pending > attest::kMaxImaLog) {
            std::abort();
          }
          if (e->ima_log_pending == 0) SameBytes(attest::Encode(*e), p);
          open = std::move(*e);
          if (open->ima_log_pending == 0) open->ima_log_pending = 64;
          break;
        }
        case channel::MessageType::kAttestImaChunk: {
          if (!open) {
            open.emplace();
            open->ima_log_pending = 64;
          }
          std::size_t had = open->ima_log.size();
          std::uint64_t pending = open->ima_log_pending;
          Status s = attest::AppendImaChunk(*open, p);
          bool took = open->ima_log.size() == had + p.size() &&
                      open->ima_log_pending == pending - p.size();
          bool unchanged =
              open->ima_log.size() == had && open->ima_log_pending == pending;
          if (s.ok() ? !took : !unchanged) std::abort();
          if (!s.ok() && s.code() != ErrorCode::kProtocol) std::abort();
          break;
        }
        default:
          break;
      }
      rest = rest.subspan(r.consumed);
    }
  }
  return 0;
}
