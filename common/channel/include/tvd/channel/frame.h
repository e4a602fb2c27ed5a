// The framed, versioned message protocol carried inside the TLS channel.
//
// A frame is a 10-byte header followed by the payload, all integers
// big-endian:
//   u16 magic   0x5456 ("TV")
//   u16 version kProtocolVersion
//   u16 type    a MessageType
//   u32 length  payload bytes, at most the receiver's maximum
// A receiver that sees a wrong magic or version, an unknown type or a length
// above its maximum answers with one kError frame naming the problem and
// closes the connection; nothing after the bad header is interpreted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tvd/status.h"

namespace tvd::channel {

inline constexpr std::uint16_t kFrameMagic = 0x5456;
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 10;
inline constexpr std::size_t kDefaultMaxPayload = 1 << 20;  // 1 MiB

// Every message type of the protocol. New modules add their types here so
// that the decoder, which refuses unknown types, accepts them.
enum class MessageType : std::uint16_t {
  kError = 1,            // u16 ErrorCode, then the UTF-8 reason
  kEnrolRequest = 2,     // host -> master: EK and AK public areas
  kEnrolChallenge = 3,   // master -> host: MakeCredential output
  kEnrolProof = 4,       // host -> master: the activated secret
  kEnrolResult = 5,      // master -> host: AK accepted
  kAttestHello = 6,      // host -> master: ready to be attested
  kAttestChallenge = 7,  // master -> host: nonce and PCR selection
  kAttestEvidence = 8,   // host -> master: quote, PCR values, IMA log
  kAttestVerdict = 9,    // master -> host: accepted (refusals are kError)
  kAttestImaChunk = 10,  // host -> master: more of the evidence's IMA log
  // Master <-> proxy and admin protocol (common/protocol/messages.h).
  kJoinRequest = 100,       // host -> master
  kJoinGrant = 101,         // master -> host: policy, key, members
  kMembershipUpdate = 102,  // master -> host: members changed / new key
  kLeaveNotice = 103,       // either way: host leaves / is told to leave
  kPolicyUpdate = 104,      // master -> host: new policy version
  kDiskKeyRequest = 105,    // host -> master
  kDiskKeyGrant = 106,      // master -> host
  kVmReport = 107,          // host -> master: VM attached / detached
  kTvdAdd = 108,            // admin -> master
  kTvdUpdate = 109,         // admin -> master
  kTvdRemove = 110,         // admin -> master
  kAdminQuery = 111,        // admin -> master
  kAdminReply = 112,        // master -> admin
  kAck = 113,               // either way: request done
  kUsageClaim = 114,        // host -> master: TVD usage on the host (quota)
  kVtpmKeyRequest = 115,    // host -> master: a VM's vTPM state key
  kVtpmKeyGrant = 116,      // master -> host
  kVtpmRecord = 117,        // host -> master: a new vTPM's EK and AK
  kVmAttestRequest = 118,   // tenant -> master: a VM's deep quote
  kVmAttestEvidence = 119,  // master -> tenant: the evidence (JSON)
  kGuestQuoteOrder = 120,   // master -> host (member channel): ask a guest
  kGuestQuoteReport = 121,  // host -> master: the guest's answer
};

// True for the values listed in MessageType.
bool IsKnownMessageType(std::uint16_t type);

struct Frame {
  MessageType type = MessageType::kError;
  std::vector<std::uint8_t> payload;
};

// Header + payload. The caller keeps payloads within its peer's maximum.
std::vector<std::uint8_t> EncodeFrame(MessageType type,
                                      std::span<const std::uint8_t> payload);
// The header of a frame whose payload has `payload_size` bytes (what
// EncodeFrame puts before the payload).
std::array<std::uint8_t, kFrameHeaderSize> EncodeFrameHeader(
    MessageType type, std::size_t payload_size);

struct DecodeResult {
  enum class Kind { kNeedMore, kFrame, kError };
  Kind kind = Kind::kNeedMore;
  // kFrame: the frame. kNeedMore with the header complete: its type (the
  // payload still empty).
  Frame frame;
  std::size_t consumed = 0;  // kFrame only: bytes of `input` used
  // kNeedMore with the header complete: header + payload, the bytes the
  // whole frame takes (0 while the header is incomplete).
  std::size_t frame_size = 0;
  Status error;  // kError only: a ProtocolError with the reason
};

// Decodes the first frame of `input` (a pure function of its arguments).
// kNeedMore when `input` is a valid but incomplete prefix; kError as soon as
// the bytes present are enough to know the frame is bad (so a peer sending
// garbage is refused without waiting for more of it).
DecodeResult DecodeFrame(std::span<const std::uint8_t> input,
                         std::size_t max_payload);

// kError payloads: u16 ErrorCode + reason text.
std::vector<std::uint8_t> EncodeErrorPayload(const Status& status);
// The Status carried by a kError payload; a malformed payload becomes a
// ProtocolError saying so.
Status DecodeErrorPayload(std::span<const std::uint8_t> payload);

}  // namespace tvd::channel
