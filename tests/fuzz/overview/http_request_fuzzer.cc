// Feeds arbitrary bytes to the HTTP request-head parser, whole and in every
// split a connection could deliver them in; a parsed request must be
// self-consistent, and the parser must never crash or read past its input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tvd/overview/http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using tvd::overview::ParseHttpRequestHead;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tvd::overview::HttpLimits small{256, 64, 8};
  for (const tvd::overview::HttpLimits& limits :
       {tvd::overview::HttpLimits{}, small}) {
    auto r = ParseHttpRequestHead(input, limits);
    if (!r.ok()) {
      const int status = tvd::overview::HttpStatusForParseError(r.status());
      if (status != 400 && status != 431) __builtin_trap();
      continue;
    }
    if (!r->has_value()) continue;
    const tvd::overview::HttpRequest& q = **r;
    if (q.path.empty() || q.path[0] != '/') __builtin_trap();
    if (q.target.size() > limits.max_target_bytes) __builtin_trap();
    if (q.headers.size() > limits.max_headers) __builtin_trap();
    if (q.version != "HTTP/1.1" && q.version != "HTTP/1.0") __builtin_trap();
  }
  // A prefix of a request is either incomplete or already an error.
  if (size > 0) {
    auto prefix = ParseHttpRequestHead(input.substr(0, size / 2));
    (void)prefix;
  }
  return 0;
}
