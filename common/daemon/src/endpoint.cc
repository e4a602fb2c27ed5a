#include "tvd/daemon/endpoint.h"

#include <arpa/inet.h>

#include <charconv>

namespace tvd::daemon {

namespace {

bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '-' || s.front() == '.') {
    return false;
  }
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string Endpoint::ToString() const {
  if (address.find(':') != std::string::npos) {
    return "[" + address + "]:" + std::to_string(port);
  }
  return address + ":" + std::to_string(port);
}

bool IsNumericAddress(std::string_view address) {
  std::string a(address);
  unsigned char buf[16];
  return inet_pton(AF_INET, a.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, a.c_str(), buf) == 1;
}

StatusOr<Endpoint> ParseEndpoint(std::string_view text,
                                 const EndpointRules& rules) {
  const std::string quoted = "'" + std::string(text) + "'";
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (text.starts_with("[")) {
    const std::size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      return InvalidArgument(quoted +
                             " is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    bracketed = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return InvalidArgument(quoted +
                             " is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  const unsigned lowest = rules.allow_port_zero ? 0 : 1;
  if (port_text.empty() || port_text.front() < '0' || port_text.front() > '9' ||
      ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < lowest || port > 65535) {
    return InvalidArgument(quoted + " does not end in a port " +
                           std::to_string(lowest) + "..65535");
  }
  std::string address(host);
  unsigned char buf[16];
  const bool v6 = inet_pton(AF_INET6, address.c_str(), buf) == 1;
  const bool v4 = inet_pton(AF_INET, address.c_str(), buf) == 1;
  // An IPv6 address only in brackets, and brackets only around one.
  const bool good =
      bracketed ? v6
                : (v4 || (rules.allow_host_name && !v6 && IsHostName(address)));
  if (!good) {
    return InvalidArgument(quoted + " does not start with " +
                           (rules.allow_host_name ? "a host name or IP address"
                                                  : "an IP address"));
  }
  return Endpoint{std::move(address), static_cast<std::uint16_t>(port)};
}

}  // namespace tvd::daemon
