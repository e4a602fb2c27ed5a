// OpenFlow 1.3 messages: the small subset the TVD anti-spoofing flows need
// (HELLO, ECHO, FLOW_MOD add/delete with OXM matches and NORMAL/drop actions,
// BARRIER, flow-stats MULTIPART) and a decoder for what the switch sends.
//
// Everything here is pure (no I/O) so it can be fuzzed. Decoders never throw
// and never read past the bytes they were given: a bad message becomes a
// ProtocolError naming the stream offset or the field.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd::vswitch::openflow {

inline constexpr std::uint8_t kVersion13 = 0x04;

enum class MsgType : std::uint8_t {
  kHello = 0,
  kError = 1,
  kEchoRequest = 2,
  kEchoReply = 3,
  kFeaturesRequest = 5,
  kPacketIn = 10,
  kFlowRemoved = 11,
  kPortStatus = 12,
  kFlowMod = 14,
  kMultipartRequest = 18,
  kMultipartReply = 19,
  kBarrierRequest = 20,
  kBarrierReply = 21,
};

inline constexpr std::uint32_t kPortNormal = 0xfffffffa;
inline constexpr std::uint32_t kPortAny = 0xffffffff;
inline constexpr std::uint16_t kEthTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEthTypeArp = 0x0806;

using MacAddress = std::array<std::uint8_t, 6>;

// "aa:bb:cc:dd:ee:ff" (case-insensitive). InvalidArgument otherwise.
StatusOr<MacAddress> ParseMac(std::string_view text);
// Dotted-quad IPv4, returned in host byte order. InvalidArgument otherwise.
StatusOr<std::uint32_t> ParseIpv4(std::string_view text);

struct FlowMatch {
  std::optional<std::uint32_t> in_port;
  std::optional<MacAddress> eth_src;
  std::optional<std::uint16_t> eth_type;
  std::optional<std::uint32_t> ipv4_src;  // needs eth_type IPv4
  std::optional<std::uint32_t> arp_spa;   // needs eth_type ARP
};

struct Flow {
  std::uint64_t cookie = 0;
  std::uint8_t table = 0;
  std::uint16_t priority = 0;
  FlowMatch match;
  enum class Action { kDrop, kNormal } action = Action::kDrop;
};

// Encoders. EncodeFlowAdd fails with InvalidArgument when a match field's
// prerequisite (eth_type) is missing, since the switch would refuse it.
std::string EncodeHello(std::uint32_t xid);
std::string EncodeEchoRequest(std::uint32_t xid, std::string_view payload);
std::string EncodeEchoReply(std::uint32_t xid, std::string_view payload);
std::string EncodeBarrierRequest(std::uint32_t xid);
StatusOr<std::string> EncodeFlowAdd(const Flow& flow, std::uint32_t xid);
// Deletes every flow in every table whose cookie matches under `mask`.
std::string EncodeFlowDeleteByCookie(std::uint64_t cookie, std::uint64_t mask,
                                     std::uint32_t xid);
// Asks for the flows (all tables) whose cookie matches under `mask`.
std::string EncodeFlowStatsRequest(std::uint64_t cookie, std::uint64_t mask,
                                   std::uint32_t xid);

struct Message {
  std::uint8_t version = 0;
  MsgType type = MsgType::kHello;
  std::uint32_t xid = 0;
  std::string body;  // the bytes after the 8-byte header
};

// Splits a byte stream from the switch into messages. HELLO may carry any
// version (the switch announces its highest); every other message must be
// OpenFlow 1.3. Errors (sticky: the stream cannot be resynchronised):
//  - "OpenFlow stream at byte N: length L is shorter than the header",
//  - "... length L exceeds the limit of M bytes",
//  - "... version V is not OpenFlow 1.3 (type T)".
class Decoder {
 public:
  static constexpr std::size_t kMaxMessageBytes = 65535;
  explicit Decoder(std::size_t max_message_bytes = kMaxMessageBytes)
      : max_(max_message_bytes) {}
  Status Feed(std::string_view bytes, std::vector<Message>* out);

 private:
  std::size_t max_;
  std::string buffer_;
  std::uint64_t consumed_ = 0;
  Status failed_;
};

// An OFPT_ERROR body.
struct ErrorMsg {
  std::uint16_t type = 0;
  std::uint16_t code = 0;
  std::string data;  // usually the start of the offending request
};
StatusOr<ErrorMsg> ParseError(std::string_view body);

// "FLOW_MOD_FAILED/BAD_COMMAND (5/3)"-style text for an error.
std::string DescribeError(const ErrorMsg& error);

// An OFPMP_FLOW multipart reply body: the cookies of the flows it lists,
// and whether more replies follow.
struct FlowStatsReply {
  bool more = false;
  struct Entry {
    std::uint64_t cookie = 0;
    std::uint8_t table = 0;
    std::uint16_t priority = 0;
    std::uint64_t packet_count = 0;
  };
  std::vector<Entry> flows;
};
// ProtocolError when the body is not a well-formed OFPMP_FLOW reply.
StatusOr<FlowStatsReply> ParseFlowStatsReply(std::string_view body);

}  // namespace tvd::vswitch::openflow
