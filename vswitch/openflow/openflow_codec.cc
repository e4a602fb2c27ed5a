#include "tvd/vswitch/openflow/openflow_codec.h"

#include <arpa/inet.h>

#include <cstring>

namespace tvd::vswitch::openflow {
namespace {

constexpr std::uint16_t kOxmClassBasic = 0x8000;
enum OxmField : std::uint8_t {
  kOxmInPort = 0,
  kOxmEthSrc = 4,
  kOxmEthType = 5,
  kOxmIpv4Src = 11,
  kOxmArpSpa = 22,
};
constexpr std::uint8_t kFlowModAdd = 0;
constexpr std::uint8_t kFlowModDelete = 3;
constexpr std::uint8_t kTableAll = 0xff;
constexpr std::uint32_t kNoBuffer = 0xffffffff;
constexpr std::uint32_t kGroupAny = 0xffffffff;
constexpr std::uint16_t kInstructionApplyActions = 4;
constexpr std::uint16_t kActionOutput = 0;
constexpr std::uint16_t kMultipartFlow = 1;
constexpr std::uint16_t kMultipartReplyMore = 1;

class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(std::uint16_t v) {
    U8(static_cast<std::uint8_t>(v >> 8));
    U8(static_cast<std::uint8_t>(v));
  }
  void U32(std::uint32_t v) {
    U16(static_cast<std::uint16_t>(v >> 16));
    U16(static_cast<std::uint16_t>(v));
  }
  void U64(std::uint64_t v) {
    U32(static_cast<std::uint32_t>(v >> 32));
    U32(static_cast<std::uint32_t>(v));
  }
  void Bytes(std::string_view b) { out_.append(b); }
  void Zeros(std::size_t n) { out_.append(n, '\0'); }
  void PadTo8() { Zeros((8 - out_.size() % 8) % 8); }
  std::size_t size() const { return out_.size(); }
  void PatchU16(std::size_t at, std::uint16_t v) {
    out_[at] = static_cast<char>(v >> 8);
    out_[at + 1] = static_cast<char>(v);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Has(std::size_t n) const { return data_.size() - pos_ >= n; }
  std::uint8_t U8() { return static_cast<std::uint8_t>(data_[pos_++]); }
  std::uint16_t U16() {
    std::uint16_t hi = U8();
    return static_cast<std::uint16_t>(hi << 8 | U8());
  }
  std::uint32_t U32() {
    std::uint32_t hi = U16();
    return hi << 16 | U16();
  }
  std::uint64_t U64() {
    std::uint64_t hi = U32();
    return hi << 32 | U32();
  }
  void Skip(std::size_t n) { pos_ += n; }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return data_.size() - pos_; }
  std::string_view Rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

void Header(Writer& w, MsgType type, std::uint32_t xid) {
  w.U8(kVersion13);
  w.U8(static_cast<std::uint8_t>(type));
  w.U16(0);  // length, patched by Finish
  w.U32(xid);
}

std::string Finish(Writer& w) {
  w.PatchU16(2, static_cast<std::uint16_t>(w.size()));
  return w.Take();
}

void OxmHeader(Writer& w, std::uint8_t field, std::uint8_t length) {
  w.U16(kOxmClassBasic);
  w.U8(static_cast<std::uint8_t>(field << 1));
  w.U8(length);
}

// ofp_match with OXM TLVs, padded to 8 bytes.
void Match(Writer& w, const FlowMatch& m) {
  std::size_t start = w.size();
  w.U16(1);  // OFPMT_OXM
  w.U16(0);  // length, patched below
  if (m.in_port) {
    OxmHeader(w, kOxmInPort, 4);
    w.U32(*m.in_port);
  }
  if (m.eth_src) {
    OxmHeader(w, kOxmEthSrc, 6);
    w.Bytes(
        std::string_view(reinterpret_cast<const char*>(m.eth_src->data()), 6));
  }
  if (m.eth_type) {
    OxmHeader(w, kOxmEthType, 2);
    w.U16(*m.eth_type);
  }
  if (m.ipv4_src) {
    OxmHeader(w, kOxmIpv4Src, 4);
    w.U32(*m.ipv4_src);
  }
  if (m.arp_spa) {
    OxmHeader(w, kOxmArpSpa, 4);
    w.U32(*m.arp_spa);
  }
  w.PatchU16(start + 2, static_cast<std::uint16_t>(w.size() - start));
  w.PadTo8();
}

void EmptyMatch(Writer& w) { Match(w, FlowMatch{}); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* ErrorTypeName(std::uint16_t type) {
  static const char* const kNames[] = {"HELLO_FAILED",
                                       "BAD_REQUEST",
                                       "BAD_ACTION",
                                       "BAD_INSTRUCTION",
                                       "BAD_MATCH",
                                       "FLOW_MOD_FAILED",
                                       "GROUP_MOD_FAILED",
                                       "PORT_MOD_FAILED",
                                       "TABLE_MOD_FAILED",
                                       "QUEUE_OP_FAILED",
                                       "SWITCH_CONFIG_FAILED",
                                       "ROLE_REQUEST_FAILED",
                                       "METER_MOD_FAILED",
                                       "TABLE_FEATURES_FAILED"};
  if (type < sizeof(kNames) / sizeof(kNames[0])) return kNames[type];
  if (type == 0xffff) return "EXPERIMENTER";
  return "UNKNOWN";
}

const char* ErrorCodeNameFor(std::uint16_t type, std::uint16_t code) {
  static const char* const kBadMatch[] = {
      "BAD_TYPE",         "BAD_LEN",       "BAD_TAG",   "BAD_DL_ADDR_MASK",
      "BAD_NW_ADDR_MASK", "BAD_WILDCARDS", "BAD_FIELD", "BAD_VALUE",
      "BAD_MASK",         "BAD_PREREQ",    "DUP_FIELD", "EPERM"};
  static const char* const kFlowMod[] = {
      "UNKNOWN", "TABLE_FULL",  "BAD_TABLE_ID", "OVERLAP",
      "EPERM",   "BAD_TIMEOUT", "BAD_COMMAND",  "BAD_FLAGS"};
  static const char* const kBadRequest[] = {
      "BAD_VERSION",    "BAD_TYPE",
      "BAD_MULTIPART",  "BAD_EXPERIMENTER",
      "BAD_EXP_TYPE",   "EPERM",
      "BAD_LEN",        "BUFFER_EMPTY",
      "BUFFER_UNKNOWN", "BAD_TABLE_ID",
      "IS_SLAVE",       "BAD_PORT",
      "BAD_PACKET",     "MULTIPART_BUFFER_OVERFLOW"};
  if (type == 4 && code < sizeof(kBadMatch) / sizeof(kBadMatch[0])) {
    return kBadMatch[code];
  }
  if (type == 5 && code < sizeof(kFlowMod) / sizeof(kFlowMod[0])) {
    return kFlowMod[code];
  }
  if (type == 1 && code < sizeof(kBadRequest) / sizeof(kBadRequest[0])) {
    return kBadRequest[code];
  }
  return nullptr;
}

}  // namespace

StatusOr<MacAddress> ParseMac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) {
    return InvalidArgument("MAC address '" + std::string(text) +
                           "' is not of the form aa:bb:cc:dd:ee:ff");
  }
  for (int i = 0; i < 6; ++i) {
    int hi = HexValue(text[i * 3]);
    int lo = HexValue(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) {
      return InvalidArgument("MAC address '" + std::string(text) +
                             "' is not of the form aa:bb:cc:dd:ee:ff");
    }
    mac[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return mac;
}

StatusOr<std::uint32_t> ParseIpv4(std::string_view text) {
  in_addr addr{};
  std::string s(text);
  if (::inet_pton(AF_INET, s.c_str(), &addr) != 1) {
    return InvalidArgument("'" + s + "' is not a dotted-quad IPv4 address");
  }
  return ntohl(addr.s_addr);
}

std::string EncodeHello(std::uint32_t xid) {
  Writer w;
  Header(w, MsgType::kHello, xid);
  return Finish(w);
}

std::string EncodeEchoRequest(std::uint32_t xid, std::string_view payload) {
  Writer w;
  Header(w, MsgType::kEchoRequest, xid);
  w.Bytes(payload);
  return Finish(w);
}

std::string EncodeEchoReply(std::uint32_t xid, std::string_view payload) {
  Writer w;
  Header(w, MsgType::kEchoReply, xid);
  w.Bytes(payload.substr(0, Decoder::kMaxMessageBytes - 8));
  return Finish(w);
}

std::string EncodeBarrierRequest(std::uint32_t xid) {
  Writer w;
  Header(w, MsgType::kBarrierRequest, xid);
  return Finish(w);
}

StatusOr<std::string> EncodeFlowAdd(const Flow& flow, std::uint32_t xid) {
  const FlowMatch& m = flow.match;
  if (m.ipv4_src && m.eth_type != kEthTypeIpv4) {
    return InvalidArgument("flow match on ipv4_src needs eth_type 0x0800");
  }
  if (m.arp_spa && m.eth_type != kEthTypeArp) {
    return InvalidArgument("flow match on arp_spa needs eth_type 0x0806");
  }
  Writer w;
  Header(w, MsgType::kFlowMod, xid);
  w.U64(flow.cookie);
  w.U64(0);  // cookie_mask (unused by ADD)
  w.U8(flow.table);
  w.U8(kFlowModAdd);
  w.U16(0);  // idle_timeout: permanent
  w.U16(0);  // hard_timeout: permanent
  w.U16(flow.priority);
  w.U32(kNoBuffer);
  w.U32(kPortAny);
  w.U32(kGroupAny);
  w.U16(0);  // flags
  w.Zeros(2);
  Match(w, m);
  if (flow.action == Flow::Action::kNormal) {
    w.U16(kInstructionApplyActions);
    w.U16(8 + 16);
    w.Zeros(4);
    w.U16(kActionOutput);
    w.U16(16);
    w.U32(kPortNormal);
    w.U16(0xffff);  // max_len: whole packet (only matters for CONTROLLER)
    w.Zeros(6);
  }
  // A flow with no instructions drops what it matches.
  return Finish(w);
}

std::string EncodeFlowDeleteByCookie(std::uint64_t cookie, std::uint64_t mask,
                                     std::uint32_t xid) {
  Writer w;
  Header(w, MsgType::kFlowMod, xid);
  w.U64(cookie);
  w.U64(mask);
  w.U8(kTableAll);
  w.U8(kFlowModDelete);
  w.U16(0);
  w.U16(0);
  w.U16(0);
  w.U32(kNoBuffer);
  w.U32(kPortAny);
  w.U32(kGroupAny);
  w.U16(0);
  w.Zeros(2);
  EmptyMatch(w);
  return Finish(w);
}

std::string EncodeFlowStatsRequest(std::uint64_t cookie, std::uint64_t mask,
                                   std::uint32_t xid) {
  Writer w;
  Header(w, MsgType::kMultipartRequest, xid);
  w.U16(kMultipartFlow);
  w.U16(0);
  w.Zeros(4);
  w.U8(kTableAll);
  w.Zeros(3);
  w.U32(kPortAny);
  w.U32(kGroupAny);
  w.Zeros(4);
  w.U64(cookie);
  w.U64(mask);
  EmptyMatch(w);
  return Finish(w);
}

Status Decoder::Feed(std::string_view bytes, std::vector<Message>* out) {
  if (!failed_.ok()) return failed_;
  buffer_.append(bytes);
  std::size_t pos = 0;
  Status status;
  while (buffer_.size() - pos >= 8) {
    Reader r(std::string_view(buffer_).substr(pos));
    std::uint8_t version = r.U8();
    std::uint8_t type = r.U8();
    std::uint16_t length = r.U16();
    std::uint32_t xid = r.U32();
    std::string where =
        "OpenFlow stream at byte " + std::to_string(consumed_ + pos) + ": ";
    if (length < 8) {
      status = ProtocolError(where + "length " + std::to_string(length) +
                             " is shorter than the header");
      break;
    }
    if (length > max_) {
      status = ProtocolError(where + "length " + std::to_string(length) +
                             " exceeds the limit of " + std::to_string(max_) +
                             " bytes");
      break;
    }
    if (version != kVersion13 &&
        !(type == static_cast<std::uint8_t>(MsgType::kHello) && version > 0)) {
      status = ProtocolError(where + "version " + std::to_string(version) +
                             " is not OpenFlow 1.3 (type " +
                             std::to_string(type) + ")");
      break;
    }
    if (buffer_.size() - pos < length) break;
    Message msg;
    msg.version = version;
    msg.type = static_cast<MsgType>(type);
    msg.xid = xid;
    msg.body = buffer_.substr(pos + 8, length - 8u);
    out->push_back(std::move(msg));
    pos += length;
  }
  if (!status.ok()) {
    failed_ = status;
    buffer_.clear();
    return status;
  }
  buffer_.erase(0, pos);
  consumed_ += pos;
  return Status::Ok();
}

StatusOr<ErrorMsg> ParseError(std::string_view body) {
  Reader r(body);
  if (!r.Has(4)) {
    return ProtocolError("OpenFlow ERROR body of " +
                         std::to_string(body.size()) +
                         " bytes is shorter than 4");
  }
  ErrorMsg e;
  e.type = r.U16();
  e.code = r.U16();
  e.data = std::string(r.Rest());
  return e;
}

std::string DescribeError(const ErrorMsg& error) {
  const char* code = ErrorCodeNameFor(error.type, error.code);
  return std::string(ErrorTypeName(error.type)) + "/" +
         (code ? code : std::to_string(error.code)) + " (" +
         std::to_string(error.type) + "/" + std::to_string(error.code) + ")";
}

StatusOr<FlowStatsReply> ParseFlowStatsReply(std::string_view body) {
  Reader r(body);
  if (!r.Has(8)) {
    return ProtocolError("OpenFlow MULTIPART_REPLY body shorter than 8 bytes");
  }
  std::uint16_t type = r.U16();
  std::uint16_t flags = r.U16();
  r.Skip(4);
  if (type != kMultipartFlow) {
    return ProtocolError("OpenFlow MULTIPART_REPLY of type " +
                         std::to_string(type) + ", expected FLOW (1)");
  }
  FlowStatsReply reply;
  reply.more = (flags & kMultipartReplyMore) != 0;
  while (r.left() > 0) {
    std::size_t at = r.pos();
    // Fixed part of ofp_flow_stats is 48 bytes, followed by the match.
    if (!r.Has(48)) {
      return ProtocolError("OpenFlow flow stats entry at body byte " +
                           std::to_string(at) + " is truncated");
    }
    std::uint16_t length = r.U16();
    if (length < 48 || length > r.left() + 2) {
      return ProtocolError("OpenFlow flow stats entry at body byte " +
                           std::to_string(at) + " has bad length " +
                           std::to_string(length));
    }
    FlowStatsReply::Entry e;
    e.table = r.U8();
    r.Skip(1 + 4 + 4);  // pad, duration_sec, duration_nsec
    e.priority = r.U16();
    r.Skip(2 + 2 + 2 + 4);  // idle, hard, flags, pad
    e.cookie = r.U64();
    e.packet_count = r.U64();
    r.Skip(8);  // byte_count
    r.Skip(length - 48u);
    reply.flows.push_back(e);
  }
  return reply;
}

}  // namespace tvd::vswitch::openflow
