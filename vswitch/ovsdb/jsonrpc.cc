#include "tvd/vswitch/ovsdb/jsonrpc.h"

#include <utility>

namespace tvd::vswitch {
namespace {

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

StatusOr<JsonRpcMessage> ParseJsonRpc(const Json& value) {
  if (!value.is_object()) {
    return ProtocolError("JSON-RPC message is not an object");
  }
  JsonRpcMessage msg;
  auto id = value.find("id");
  auto method = value.find("method");
  if (method != value.end()) {
    if (!method->is_string()) {
      return ProtocolError("JSON-RPC member 'method' is not a string");
    }
    auto params = value.find("params");
    if (params == value.end()) {
      return ProtocolError("JSON-RPC request '" + method->get<std::string>() +
                           "' has no 'params'");
    }
    if (!params->is_array()) {
      return ProtocolError("JSON-RPC request '" + method->get<std::string>() +
                           "': 'params' is not an array");
    }
    msg.method = method->get<std::string>();
    msg.params = *params;
    if (id == value.end() || id->is_null()) {
      msg.kind = JsonRpcMessage::Kind::kNotification;
    } else {
      msg.kind = JsonRpcMessage::Kind::kRequest;
      msg.id = *id;
    }
    return msg;
  }
  auto result = value.find("result");
  auto error = value.find("error");
  if (result == value.end() && error == value.end()) {
    return ProtocolError(
        "JSON-RPC message has neither 'method' nor 'result'/'error'");
  }
  if (id == value.end()) {
    return ProtocolError("JSON-RPC response has no 'id'");
  }
  msg.kind = JsonRpcMessage::Kind::kResponse;
  msg.id = *id;
  if (result != value.end()) msg.result = *result;
  if (error != value.end()) msg.error = *error;
  if (!msg.error.is_null() && !msg.result.is_null()) {
    return ProtocolError("JSON-RPC response has both 'result' and 'error'");
  }
  return msg;
}

std::string EncodeJsonRpcRequest(std::string_view method, const Json& params,
                                 const Json& id) {
  Json msg = {{"method", std::string(method)}, {"params", params}, {"id", id}};
  return Dump(msg);
}

std::string EncodeJsonRpcResponse(const Json& result, const Json& id) {
  Json msg = {{"result", result}, {"error", nullptr}, {"id", id}};
  return Dump(msg);
}

Status JsonRpcDecoder::Feed(std::string_view bytes,
                            std::vector<JsonRpcMessage>* out) {
  if (!failed_.ok()) return failed_;
  buffer_.append(bytes);
  // `start` is the index in buffer_ where the message being scanned begins;
  // consumed bytes are erased once at the end so long inputs stay linear.
  std::size_t start = 0;
  Status status;
  while (scan_ < buffer_.size()) {
    char c = buffer_[scan_];
    std::uint64_t offset = consumed_ + scan_;
    if (depth_ == 0) {
      // Between messages: skip whitespace, then require an object.
      if (IsJsonSpace(c)) {
        start = ++scan_;
        continue;
      }
      if (c != '{') {
        status =
            ProtocolError("JSON-RPC stream at byte " + std::to_string(offset) +
                          ": expected '{' to start a message, got byte " +
                          std::to_string(static_cast<unsigned char>(c)));
        break;
      }
    }
    ++scan_;
    if (scan_ - start > max_message_bytes_) {
      status = ProtocolError(
          "JSON-RPC stream at byte " + std::to_string(consumed_ + start) +
          ": message exceeds " + std::to_string(max_message_bytes_) + " bytes");
      break;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (++depth_ > kMaxDepth) {
        status =
            ProtocolError("JSON-RPC stream at byte " + std::to_string(offset) +
                          ": nesting deeper than " + std::to_string(kMaxDepth));
        break;
      }
    } else if (c == '}' || c == ']') {
      if (--depth_ < 0) {
        status =
            ProtocolError("JSON-RPC stream at byte " + std::to_string(offset) +
                          ": unbalanced closing bracket");
        break;
      }
      if (depth_ == 0) {
        std::string_view text(buffer_.data() + start, scan_ - start);
        std::string where =
            "JSON-RPC message at byte " + std::to_string(consumed_ + start);
        Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (value.is_discarded()) {
          status = ProtocolError(where + ": invalid JSON");
          break;
        }
        StatusOr<JsonRpcMessage> msg = ParseJsonRpc(value);
        if (!msg.ok()) {
          status = msg.status().WithContext(where);
          break;
        }
        out->push_back(std::move(msg).value());
        start = scan_;
      }
    }
  }
  if (!status.ok()) {
    failed_ = status;
    buffer_.clear();
    buffer_.shrink_to_fit();
    return status;
  }
  buffer_.erase(0, start);
  consumed_ += start;
  scan_ -= start;
  return Status::Ok();
}

}  // namespace tvd::vswitch
