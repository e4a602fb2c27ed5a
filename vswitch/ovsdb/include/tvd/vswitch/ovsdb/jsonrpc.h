// JSON-RPC 1.0 framing as Open vSwitch's database server speaks it
// (RFC 7047 section 4): JSON objects sent back to back on a stream, with no
// length prefix and no delimiter.
//
// JsonRpcDecoder is a pure byte-stream splitter + validator with no I/O, so
// it can be fuzzed and unit-tested on its own. It never throws on bad input;
// every problem becomes a ProtocolError naming the byte offset in the stream
// and what was wrong. After the first error the decoder stays failed (the
// stream cannot be resynchronised; the caller drops the connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd::vswitch {

using Json = nlohmann::json;

struct JsonRpcMessage {
  enum class Kind { kRequest, kNotification, kResponse };
  Kind kind = Kind::kRequest;
  std::string method;  // requests and notifications
  Json params;         // requests and notifications: always an array
  Json id;             // requests and responses; null for notifications
  Json result;         // responses: null when `error` is set
  Json error;          // responses: null on success
};

// Checks the shape of a parsed JSON-RPC object and classifies it.
// ProtocolError (naming the member) when a member is missing or has the
// wrong type.
StatusOr<JsonRpcMessage> ParseJsonRpc(const Json& value);

// Serialised messages. Invalid UTF-8 in strings is replaced, never thrown.
std::string EncodeJsonRpcRequest(std::string_view method, const Json& params,
                                 const Json& id);
std::string EncodeJsonRpcResponse(const Json& result, const Json& id);

class JsonRpcDecoder {
 public:
  static constexpr std::size_t kDefaultMaxMessageBytes = 64u << 20;
  // Nesting deeper than this is refused before JSON parsing (OVSDB messages
  // nest fewer than 10 levels).
  static constexpr int kMaxDepth = 64;

  explicit JsonRpcDecoder(
      std::size_t max_message_bytes = kDefaultMaxMessageBytes)
      : max_message_bytes_(max_message_bytes) {}

  // Consumes `bytes` and appends every message completed by them to `out`
  // (also the ones before an error). Incomplete trailing bytes are kept for
  // the next call. Errors:
  //  - ProtocolError "... at byte N: message exceeds M bytes" (oversize),
  //  - ProtocolError "... at byte N: expected '{' ..." (not an object),
  //  - ProtocolError "... at byte N: nesting deeper than 64",
  //  - ProtocolError "... invalid JSON: <parser message>",
  //  - any ParseJsonRpc error, with the message's starting offset.
  Status Feed(std::string_view bytes, std::vector<JsonRpcMessage>* out);

  // Bytes of an incomplete message held back.
  std::size_t buffered() const { return buffer_.size(); }

 private:
  std::size_t max_message_bytes_;
  std::string buffer_;          // bytes of the message in progress
  std::uint64_t consumed_ = 0;  // stream offset of buffer_[0]
  std::size_t scan_ = 0;        // next index of buffer_ to scan
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  Status failed_;
};

}  // namespace tvd::vswitch
