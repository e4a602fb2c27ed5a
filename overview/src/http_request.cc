#include "tvd/overview/http_request.h"

#include <algorithm>

namespace tvd::overview {

namespace {

// RFC 9110 token characters.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Visible ASCII except '#' (a fragment never travels in a request).
bool IsTargetChar(char c) { return c > 0x20 && c < 0x7f && c != '#'; }

// Field values: visible ASCII, space, tab and obs-text (0x80..0xff).
bool IsValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<std::string> HttpRequest::Header(
    std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

StatusOr<std::optional<HttpRequest>> ParseHttpRequestHead(
    std::string_view data, const HttpLimits& limits) {
  const std::size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > limits.max_head_bytes) {
    if (data.size() > limits.max_head_bytes ||
        (end != std::string_view::npos && end + 4 > limits.max_head_bytes)) {
      return FailedPrecondition("request head larger than " +
                                std::to_string(limits.max_head_bytes) +
                                " bytes");
    }
    return std::optional<HttpRequest>();
  }
  const std::string_view head = data.substr(0, end);

  // Split into lines at CRLF; a CR or LF left inside a line is bare.
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0;;) {
    const std::size_t eol = head.find("\r\n", pos);
    std::string_view line =
        head.substr(pos, eol == std::string_view::npos ? std::string_view::npos
                                                       : eol - pos);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      return InvalidArgument("bare CR or LF in request head");
    }
    lines.push_back(line);
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }

  HttpRequest req;
  const std::string_view request_line = lines[0];
  const std::size_t sp1 = request_line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos
                              ? std::string_view::npos
                              : request_line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    return InvalidArgument("malformed request line");
  }
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(method) || method.size() > 16) {
    return InvalidArgument("malformed method");
  }
  if (target.size() > limits.max_target_bytes) {
    return InvalidArgument("request target longer than " +
                           std::to_string(limits.max_target_bytes) + " bytes");
  }
  if (target.empty() || target[0] != '/') {
    return InvalidArgument("request target must start with '/'");
  }
  if (!std::all_of(target.begin(), target.end(), IsTargetChar)) {
    return InvalidArgument("invalid character in request target");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    std::string shown(version.substr(0, 16));
    for (char& c : shown) {
      if (!IsTargetChar(c)) c = '?';
    }
    return InvalidArgument("unsupported HTTP version '" + shown + "'");
  }
  req.method = std::string(method);
  req.target = std::string(target);
  req.path = std::string(target.substr(0, target.find('?')));
  req.version = std::string(version);

  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      return InvalidArgument("obsolete header line folding");
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return InvalidArgument("malformed header line " + std::to_string(i));
    }
    if (req.headers.size() == limits.max_headers) {
      return InvalidArgument("more than " + std::to_string(limits.max_headers) +
                             " headers");
    }
    const std::string name = Lower(line.substr(0, colon));
    const std::string_view value = TrimSpaces(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), IsValueChar)) {
      return InvalidArgument("invalid character in header '" + name + "'");
    }
    req.headers.emplace_back(name, std::string(value));
  }

  const auto hosts =
      std::count_if(req.headers.begin(), req.headers.end(),
                    [](const auto& h) { return h.first == "host"; });
  if (hosts > 1) return InvalidArgument("more than one Host header");
  if (hosts == 0 && req.version == "HTTP/1.1") {
    return InvalidArgument("missing Host header");
  }
  for (const auto& [name, value] : req.headers) {
    if (name == "transfer-encoding" ||
        (name == "content-length" && value != "0")) {
      return InvalidArgument("request bodies are not accepted");
    }
  }
  return std::optional<HttpRequest>(std::move(req));
}

int HttpStatusForParseError(const Status& error) {
  return error.code() == ErrorCode::kFailedPrecondition ? 431 : 400;
}

}  // namespace tvd::overview
