// The head of one HTTP/1.x request, parsed strictly from the bytes a
// connection has received so far. The overview server only answers GET of a
// few fixed paths, so anything unusual is refused rather than interpreted:
// bare CR or LF, obsolete line folding, a request body, an absolute-form
// target, a head larger than the cap.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tvd/status.h"

namespace tvd::overview {

struct HttpLimits {
  std::size_t max_head_bytes = 8192;  // request line + headers + CRLFCRLF
  std::size_t max_target_bytes = 1024;
  std::size_t max_headers = 64;
};

struct HttpRequest {
  std::string method;   // as sent, case-sensitive ("GET")
  std::string target;   // "/overview.json?x=1"
  std::string path;     // "/overview.json"
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  // Names lower-cased; values without surrounding spaces; in order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that (lower-case) name, or nullopt.
  std::optional<std::string> Header(std::string_view lower_name) const;
};

// Parses `data` (everything received so far on the connection).
//   - nullopt: the head is not complete yet and `data` is within the cap;
//     read more.
//   - a request: the head ended with CRLF CRLF; bytes after it are ignored
//     (the server answers one request per connection).
// Errors, each InvalidArgument (HTTP 400) with the message to send back,
// except the size cap:
//   FailedPrecondition "request head larger than 8192 bytes"  (HTTP 431)
//   "malformed request line"            not METHOD SP TARGET SP VERSION
//   "malformed method"                  not a token of 1..16 characters
//   "request target longer than 1024 bytes"
//   "request target must start with '/'"
//   "invalid character in request target"
//   "unsupported HTTP version 'X'"      only HTTP/1.0 and HTTP/1.1
//   "bare CR or LF in request head"
//   "obsolete header line folding"
//   "malformed header line N"           no colon, or an empty/invalid name
//   "invalid character in header 'NAME'"
//   "more than 64 headers"
//   "missing Host header"               HTTP/1.1 without Host
//   "more than one Host header"
//   "request bodies are not accepted"   Transfer-Encoding, or a
//                                       Content-Length other than 0
StatusOr<std::optional<HttpRequest>> ParseHttpRequestHead(
    std::string_view data, const HttpLimits& limits = {});

// The HTTP status for an error of ParseHttpRequestHead: 431 for the size
// cap, 400 otherwise.
int HttpStatusForParseError(const Status& error);

}  // namespace tvd::overview
