#include "tvd/libvirt_filter/rpc_packet.h"

#include "tvd/libvirt_filter/xdr.h"

namespace tvd::libvirt_filter {

StatusOr<std::size_t> DecodePacketLength(std::span<const std::uint8_t> prefix) {
  if (prefix.size() < kLengthWordSize) {
    return ProtocolError("packet length word is cut short");
  }
  std::size_t length = std::size_t{prefix[0]} << 24 |
                       std::size_t{prefix[1]} << 16 |
                       std::size_t{prefix[2]} << 8 | std::size_t{prefix[3]};
  if (length < kMinPacketSize) {
    return ProtocolError("packet length " + std::to_string(length) +
                         " is below the minimum of " +
                         std::to_string(kMinPacketSize) + " bytes");
  }
  if (length > kMaxPacketSize) {
    return ProtocolError("packet length " + std::to_string(length) +
                         " is over the limit of " +
                         std::to_string(kMaxPacketSize) + " bytes");
  }
  return length;
}

StatusOr<Packet> DecodePacket(std::span<const std::uint8_t> bytes) {
  TVD_ASSIGN_OR_RETURN(std::size_t length, DecodePacketLength(bytes));
  if (length != bytes.size()) {
    return ProtocolError("packet length word says " + std::to_string(length) +
                         " bytes, packet has " + std::to_string(bytes.size()));
  }
  XdrReader r(bytes.subspan(kLengthWordSize));
  Packet p;
  TVD_ASSIGN_OR_RETURN(p.header.program, r.U32("program"));
  TVD_ASSIGN_OR_RETURN(p.header.version, r.U32("version"));
  TVD_ASSIGN_OR_RETURN(p.header.procedure, r.I32("procedure"));
  TVD_ASSIGN_OR_RETURN(std::uint32_t type, r.U32("type"));
  TVD_ASSIGN_OR_RETURN(p.header.serial, r.U32("serial"));
  TVD_ASSIGN_OR_RETURN(std::uint32_t status, r.U32("status"));
  if (type > static_cast<std::uint32_t>(MessageType::kStreamHole)) {
    return ProtocolError("unknown message type " + std::to_string(type));
  }
  if (status > static_cast<std::uint32_t>(MessageStatus::kContinue)) {
    return ProtocolError("unknown message status " + std::to_string(status));
  }
  p.header.type = static_cast<MessageType>(type);
  p.header.status = static_cast<MessageStatus>(status);
  p.payload.assign(bytes.begin() + kMinPacketSize, bytes.end());
  return p;
}

std::vector<std::uint8_t> EncodePacket(const PacketHeader& h,
                                       std::span<const std::uint8_t> payload) {
  XdrWriter w;
  w.bytes().reserve(kMinPacketSize + payload.size());
  w.U32(static_cast<std::uint32_t>(kMinPacketSize + payload.size()));
  w.U32(h.program);
  w.U32(h.version);
  w.I32(h.procedure);
  w.U32(static_cast<std::uint32_t>(h.type));
  w.U32(h.serial);
  w.U32(static_cast<std::uint32_t>(h.status));
  w.Raw(payload);
  return w.Take();
}

void PacketAssembler::Append(std::span<const std::uint8_t> bytes) {
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

StatusOr<bool> PacketAssembler::Next(Packet& out) {
  if (!failed_.ok()) return failed_;
  std::span<const std::uint8_t> pending(buffer_.data() + consumed_,
                                        buffer_.size() - consumed_);
  if (pending.size() < kLengthWordSize) return false;
  StatusOr<std::size_t> length = DecodePacketLength(pending);
  if (!length.ok()) {
    failed_ = length.status();
    return failed_;
  }
  if (pending.size() < *length) return false;
  StatusOr<Packet> packet = DecodePacket(pending.first(*length));
  if (!packet.ok()) {
    failed_ = packet.status();
    return failed_;
  }
  out = std::move(packet).value();
  consumed_ += *length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > 1024 * 1024) {
    buffer_.erase(buffer_.begin(),
                  buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  return true;
}

}  // namespace tvd::libvirt_filter
