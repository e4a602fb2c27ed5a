// ADDRESS:PORT, the one parser every daemon and tool uses for a TCP
// endpoint on its command line or in its config file.
//
//   127.0.0.1:7400     an IPv4 address
//   [::1]:7400         an IPv6 address, always in brackets
//   master.vdc:7400    a host name, where the caller allows names
//
// The port is decimal digits only (no sign, no spaces; never atoi), at most
// 65535; 0 ("any free port") only where the caller allows it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::daemon {

struct Endpoint {
  std::string address;  // without brackets: "::1", "127.0.0.1", "master.vdc"
  std::uint16_t port = 0;

  // The text form again: "[::1]:7400" for IPv6, "ADDRESS:PORT" otherwise.
  std::string ToString() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct EndpointRules {
  bool allow_port_zero = false;  // listen endpoints: the kernel picks a port
  bool allow_host_name = false;  // peers: a DNS name (letters, digits, '.',
                                 // '-') besides numeric addresses
};

// Errors (InvalidArgument), the text quoted:
//   "'T' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)"  no colon, bare IPv6
//   "'T' does not end in a port 1..65535" (or 0..65535 with allow_port_zero)
//   "'T' does not start with an IP address" (or "a host name or IP address")
StatusOr<Endpoint> ParseEndpoint(std::string_view text,
                                 const EndpointRules& rules = {});

// True when `address` is a numeric IPv4 or IPv6 address (no brackets).
bool IsNumericAddress(std::string_view address);

}  // namespace tvd::daemon
