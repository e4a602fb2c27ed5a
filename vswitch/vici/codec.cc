#include "tvd/vswitch/vici/codec.h"

#include <openssl/crypto.h>

#include <set>
#include <utility>

namespace tvd::vici {

std::string_view PacketTypeName(PacketType type) {
  switch (type) {
    case PacketType::kCmdRequest:
      return "cmd-request";
    case PacketType::kCmdResponse:
      return "cmd-response";
    case PacketType::kCmdUnknown:
      return "cmd-unknown";
    case PacketType::kEventRegister:
      return "event-register";
    case PacketType::kEventUnregister:
      return "event-unregister";
    case PacketType::kEventConfirm:
      return "event-confirm";
    case PacketType::kEventUnknown:
      return "event-unknown";
    case PacketType::kEvent:
      return "event";
  }
  return "unknown";
}

bool PacketHasName(PacketType type) {
  return type == PacketType::kCmdRequest ||
         type == PacketType::kEventRegister ||
         type == PacketType::kEventUnregister || type == PacketType::kEvent;
}

bool PacketHasMessage(PacketType type) {
  return type == PacketType::kCmdRequest || type == PacketType::kCmdResponse ||
         type == PacketType::kEvent;
}

namespace {

constexpr std::size_t kMaxName = 255;
constexpr std::size_t kMaxValue = 65535;

// ---- encoding: size first, then one write into a buffer of exactly that
// size, so a secret value is never copied into a buffer that reallocates.

Status CheckName(std::string_view name, std::string_view where) {
  if (name.empty()) {
    return InvalidArgument("vici encode: empty name in " + std::string(where));
  }
  if (name.size() > kMaxName) {
    return InvalidArgument(
        "vici encode: name '" + std::string(name.substr(0, 32)) + "...' is " +
        std::to_string(name.size()) + " bytes, the limit is 255");
  }
  return Status::Ok();
}

Status CheckValue(std::string_view name, std::size_t size) {
  if (size > kMaxValue) {
    return InvalidArgument("vici encode: value of '" + std::string(name) +
                           "' is " + std::to_string(size) +
                           " bytes, the limit is 65535");
  }
  return Status::Ok();
}

StatusOr<std::size_t> EncodedSize(const Message& m, std::string_view path) {
  std::size_t total = 0;
  std::set<std::string_view> seen;
  for (const Message::Entry& e : m.entries()) {
    TVD_RETURN_IF_ERROR(CheckName(e.name, path.empty() ? "root" : path));
    if (!seen.insert(e.name).second) {
      return InvalidArgument("vici encode: name '" + e.name +
                             "' repeats in section '" +
                             std::string(path.empty() ? "root" : path) + "'");
    }
    total += 2 + e.name.size();
    switch (e.kind) {
      case Message::Kind::kValue:
        TVD_RETURN_IF_ERROR(CheckValue(e.name, e.value.size()));
        total += 2 + e.value.size();
        break;
      case Message::Kind::kList:
        for (const std::string& item : e.items) {
          TVD_RETURN_IF_ERROR(CheckValue(e.name, item.size()));
          total += 3 + item.size();
        }
        total += 1;  // LIST_END
        break;
      case Message::Kind::kSection: {
        std::string sub =
            std::string(path) + (path.empty() ? "" : ".") + e.name;
        TVD_ASSIGN_OR_RETURN(std::size_t inner,
                             EncodedSize(m.SectionAt(e), sub));
        total += inner + 1;  // SECTION_END
        break;
      }
    }
  }
  return total;
}

class Writer {
 public:
  explicit Writer(std::uint8_t* out) : out_(out) {}
  void U8(std::uint8_t v) { out_[pos_++] = v; }
  void U16(std::size_t v) {
    U8(static_cast<std::uint8_t>(v >> 8));
    U8(static_cast<std::uint8_t>(v));
  }
  void U32(std::size_t v) {
    U16((v >> 16) & 0xffff);
    U16(v & 0xffff);
  }
  void Bytes(std::string_view s) {
    for (char c : s) U8(static_cast<std::uint8_t>(c));
  }
  void Name(std::string_view s) {
    U8(static_cast<std::uint8_t>(s.size()));
    Bytes(s);
  }
  void Blob(std::string_view s) {
    U16(s.size());
    Bytes(s);
  }
  std::size_t pos() const { return pos_; }

 private:
  std::uint8_t* out_;
  std::size_t pos_ = 0;
};

void WriteMessage(const Message& m, Writer& w) {
  for (const Message::Entry& e : m.entries()) {
    switch (e.kind) {
      case Message::Kind::kValue:
        w.U8(static_cast<std::uint8_t>(ElementType::kKeyValue));
        w.Name(e.name);
        w.Blob(e.value);
        break;
      case Message::Kind::kList:
        w.U8(static_cast<std::uint8_t>(ElementType::kListStart));
        w.Name(e.name);
        for (const std::string& item : e.items) {
          w.U8(static_cast<std::uint8_t>(ElementType::kListItem));
          w.Blob(item);
        }
        w.U8(static_cast<std::uint8_t>(ElementType::kListEnd));
        break;
      case Message::Kind::kSection:
        w.U8(static_cast<std::uint8_t>(ElementType::kSectionStart));
        w.Name(e.name);
        WriteMessage(m.SectionAt(e), w);
        w.U8(static_cast<std::uint8_t>(ElementType::kSectionEnd));
        break;
    }
  }
}

// ---- decoding

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return in_.size() - pos_; }
  std::uint8_t U8() { return in_[pos_++]; }
  std::size_t U16() {
    std::size_t hi = U8();
    return (hi << 8) | U8();
  }
  std::string Bytes(std::size_t n) {
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

Status DecodeError(std::string_view what, std::size_t offset) {
  return InvalidArgument("vici message: " + std::string(what) + " at offset " +
                         std::to_string(offset));
}

StatusOr<std::string> ReadName(Reader& r, std::string_view element,
                               std::size_t start) {
  if (r.left() < 1) {
    return DecodeError("truncated " + std::string(element) + " name length",
                       start);
  }
  std::size_t n = r.U8();
  if (n == 0)
    return DecodeError("empty " + std::string(element) + " name", start);
  if (r.left() < n) {
    return DecodeError("truncated " + std::string(element) + " name (needs " +
                           std::to_string(n) + " bytes, " +
                           std::to_string(r.left()) + " left)",
                       start);
  }
  return r.Bytes(n);
}

StatusOr<std::string> ReadValue(Reader& r, std::string_view element,
                                std::size_t start) {
  if (r.left() < 2) {
    return DecodeError("truncated " + std::string(element) + " value length",
                       start);
  }
  std::size_t n = r.U16();
  if (r.left() < n) {
    return DecodeError("truncated " + std::string(element) + " value (needs " +
                           std::to_string(n) + " bytes, " +
                           std::to_string(r.left()) + " left)",
                       start);
  }
  return r.Bytes(n);
}

// A section being filled: the message, and names already used in it.
struct OpenSection {
  Message message;
  std::string name;  // name under which it goes into its parent
  std::set<std::string> names;
};

}  // namespace

StatusOr<SecureBytes> EncodeMessage(const Message& message) {
  TVD_ASSIGN_OR_RETURN(std::size_t size, EncodedSize(message, ""));
  SecureBytes out(size);
  Writer w(out.data());
  WriteMessage(message, w);
  return out;
}

StatusOr<SecureBytes> EncodeSegment(const Packet& packet) {
  const bool named = PacketHasName(packet.type);
  const bool has_message = PacketHasMessage(packet.type);
  const std::string type_name(PacketTypeName(packet.type));
  if (named) {
    TVD_RETURN_IF_ERROR(CheckName(packet.name, type_name + " packet"));
  } else if (!packet.name.empty()) {
    return InvalidArgument("vici encode: " + type_name +
                           " packets carry no name");
  }
  if (!has_message && !packet.message.empty()) {
    return InvalidArgument("vici encode: " + type_name +
                           " packets carry no message");
  }
  std::size_t body = 0;
  if (has_message) {
    TVD_ASSIGN_OR_RETURN(body, EncodedSize(packet.message, ""));
  }
  const std::size_t packet_size =
      1 + (named ? 1 + packet.name.size() : 0) + body;
  if (packet_size > kMaxSegmentSize) {
    return InvalidArgument("vici encode: packet of " +
                           std::to_string(packet_size) +
                           " bytes exceeds the 524288-byte segment limit");
  }
  SecureBytes out(4 + packet_size);
  Writer w(out.data());
  w.U32(packet_size);
  w.U8(static_cast<std::uint8_t>(packet.type));
  if (named) w.Name(packet.name);
  if (has_message) WriteMessage(packet.message, w);
  return out;
}

StatusOr<Message> DecodeMessage(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxSegmentSize) {
    return InvalidArgument("vici message: " + std::to_string(bytes.size()) +
                           " bytes exceeds the 524288-byte limit");
  }
  Reader r(bytes);
  // stack[0] is the root; a section is attached to its parent when it ends.
  std::vector<OpenSection> stack(1);
  std::optional<std::string> list_name;
  std::vector<std::string> list_items;
  std::size_t list_start = 0;

  while (!r.done()) {
    const std::size_t start = r.pos();
    const std::uint8_t raw = r.U8();
    if (raw < 1 || raw > 6) {
      return DecodeError("unknown element type " + std::to_string(raw), start);
    }
    const auto type = static_cast<ElementType>(raw);
    if (list_name && type != ElementType::kListItem &&
        type != ElementType::kListEnd) {
      return DecodeError("element type " + std::to_string(raw) +
                             " inside list '" + *list_name + "'",
                         start);
    }
    switch (type) {
      case ElementType::kSectionStart: {
        TVD_ASSIGN_OR_RETURN(std::string name, ReadName(r, "section", start));
        if (stack.back().names.count(name) != 0) {
          return DecodeError("repeated name '" + name + "'", start);
        }
        if (stack.size() > kMaxNestingDepth) {
          return DecodeError(
              "sections nested deeper than " + std::to_string(kMaxNestingDepth),
              start);
        }
        stack.back().names.insert(name);
        OpenSection s;
        s.name = std::move(name);
        stack.push_back(std::move(s));
        break;
      }
      case ElementType::kSectionEnd: {
        if (stack.size() == 1) {
          return DecodeError("section end with no open section", start);
        }
        OpenSection done = std::move(stack.back());
        stack.pop_back();
        stack.back().message.AddSection(done.name, std::move(done.message));
        break;
      }
      case ElementType::kKeyValue: {
        TVD_ASSIGN_OR_RETURN(std::string name, ReadName(r, "key", start));
        TVD_ASSIGN_OR_RETURN(std::string value, ReadValue(r, "key", start));
        if (!stack.back().names.insert(name).second) {
          return DecodeError("repeated name '" + name + "'", start);
        }
        stack.back().message.Add(name, value);
        OPENSSL_cleanse(value.data(), value.size());
        break;
      }
      case ElementType::kListStart: {
        TVD_ASSIGN_OR_RETURN(std::string name, ReadName(r, "list", start));
        if (!stack.back().names.insert(name).second) {
          return DecodeError("repeated name '" + name + "'", start);
        }
        list_name = std::move(name);
        list_items.clear();
        list_start = start;
        break;
      }
      case ElementType::kListItem: {
        if (!list_name) {
          return DecodeError("list item outside a list", start);
        }
        TVD_ASSIGN_OR_RETURN(std::string item,
                             ReadValue(r, "list item", start));
        list_items.push_back(std::move(item));
        break;
      }
      case ElementType::kListEnd:
        if (!list_name) return DecodeError("list end with no open list", start);
        stack.back().message.AddList(*list_name, std::move(list_items));
        list_items = {};
        list_name.reset();
        break;
    }
  }
  if (list_name) {
    return DecodeError("list '" + *list_name + "' not closed", list_start);
  }
  if (stack.size() > 1) {
    return DecodeError("section '" + stack.back().name + "' not closed",
                       bytes.size());
  }
  return std::move(stack.front().message);
}

StatusOr<Packet> DecodePacket(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return InvalidArgument("vici packet: empty");
  if (bytes.size() > kMaxSegmentSize) {
    return InvalidArgument("vici packet: " + std::to_string(bytes.size()) +
                           " bytes exceeds the 524288-byte limit");
  }
  if (bytes[0] > 7) {
    return InvalidArgument("vici packet: unknown packet type " +
                           std::to_string(bytes[0]));
  }
  Packet p;
  p.type = static_cast<PacketType>(bytes[0]);
  const std::string type_name(PacketTypeName(p.type));
  std::size_t pos = 1;
  if (PacketHasName(p.type)) {
    if (bytes.size() < 2) {
      return InvalidArgument("vici packet: " + type_name +
                             " truncated before its name");
    }
    const std::size_t n = bytes[1];
    if (n == 0) {
      return InvalidArgument("vici packet: " + type_name +
                             " has an empty name");
    }
    if (bytes.size() < 2 + n) {
      return InvalidArgument("vici packet: " + type_name +
                             " name truncated (needs " + std::to_string(n) +
                             " bytes, " + std::to_string(bytes.size() - 2) +
                             " left)");
    }
    p.name.assign(reinterpret_cast<const char*>(bytes.data() + 2), n);
    pos = 2 + n;
  }
  std::span<const std::uint8_t> rest = bytes.subspan(pos);
  if (!PacketHasMessage(p.type)) {
    if (!rest.empty()) {
      return InvalidArgument("vici packet: " + type_name + " has " +
                             std::to_string(rest.size()) + " trailing bytes");
    }
    return p;
  }
  StatusOr<Message> m = DecodeMessage(rest);
  if (!m.ok()) {
    return m.status().WithContext("vici packet " + type_name +
                                  (p.name.empty() ? "" : " '" + p.name + "'") +
                                  " (message starts at offset " +
                                  std::to_string(pos) + ")");
  }
  p.message = std::move(m).value();
  return p;
}

void SegmentReader::Append(std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  // Compact before growing so the buffer does not grow without bound.
  if (offset_ > 0 && offset_ == buffer_.size()) {
    OPENSSL_cleanse(buffer_.data(), buffer_.size());
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

SecureBytes SegmentReader::TakeFront(std::size_t size) {
  SecureBytes out(
      std::span<const std::uint8_t>(buffer_.data() + offset_, size));
  offset_ += size;
  return out;
}

StatusOr<std::optional<SecureBytes>> SegmentReader::Next() {
  if (failed_) return *failed_;
  if (buffered() < 4) return std::optional<SecureBytes>();
  const std::uint8_t* p = buffer_.data() + offset_;
  const std::size_t length = (std::size_t{p[0]} << 24) |
                             (std::size_t{p[1]} << 16) |
                             (std::size_t{p[2]} << 8) | std::size_t{p[3]};
  if (length == 0 || length > kMaxSegmentSize) {
    failed_ = InvalidArgument(
        "vici segment: length " + std::to_string(length) +
        (length == 0 ? " is empty" : " exceeds the 524288-byte limit"));
    return *failed_;
  }
  if (buffered() < 4 + length) return std::optional<SecureBytes>();
  offset_ += 4;
  return std::optional<SecureBytes>(TakeFront(length));
}

void SegmentReader::Clear() {
  if (!buffer_.empty()) OPENSSL_cleanse(buffer_.data(), buffer_.size());
  buffer_.clear();
  offset_ = 0;
  failed_.reset();
}

}  // namespace tvd::vici
