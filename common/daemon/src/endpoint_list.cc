#include "tvd/daemon/endpoint_list.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace tvd::daemon {

namespace {

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The address as bytes when it is numeric, so that two spellings of one
// IPv6 address compare equal; the lower-cased name otherwise.
std::string AddressKey(const std::string& address) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, address.c_str(), buf) == 1) {
    return std::string("4") + std::string(reinterpret_cast<char*>(buf), 4);
  }
  if (inet_pton(AF_INET6, address.c_str(), buf) == 1) {
    return std::string("6") + std::string(reinterpret_cast<char*>(buf), 16);
  }
  std::string lower = address;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return "n" + lower;
}

}  // namespace

bool SameEndpoint(const Endpoint& a, const Endpoint& b) {
  return a.port == b.port && AddressKey(a.address) == AddressKey(b.address);
}

std::string EndpointListToString(const std::vector<Endpoint>& endpoints) {
  std::string out;
  for (const Endpoint& e : endpoints) {
    if (!out.empty()) out += ",";
    out += e.ToString();
  }
  return out;
}

StatusOr<std::vector<Endpoint>> ParseEndpointList(std::string_view text,
                                                  const EndpointRules& rules,
                                                  std::size_t max_entries) {
  if (text.find(',') == std::string_view::npos) {
    TVD_ASSIGN_OR_RETURN(Endpoint one, ParseEndpoint(text, rules));
    return std::vector<Endpoint>{std::move(one)};
  }
  const std::string quoted = "'" + std::string(text) + "'";
  const std::size_t count =
      static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1;
  if (count > max_entries) {
    return InvalidArgument(quoted + " lists " + std::to_string(count) +
                           " endpoints; at most " +
                           std::to_string(max_entries));
  }
  std::vector<Endpoint> out;
  out.reserve(count);
  std::size_t start = 0;
  for (std::size_t i = 1; i <= count; ++i) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view entry =
        TrimBlanks(text.substr(start, comma - start));
    start = comma + 1;
    const std::string where = quoted + ": entry " + std::to_string(i);
    if (entry.empty()) return InvalidArgument(where + " is empty");
    StatusOr<Endpoint> e = ParseEndpoint(entry, rules);
    if (!e.ok()) return InvalidArgument(where + ": " + e.status().message());
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (SameEndpoint(out[j], *e)) {
        return InvalidArgument(where + " (" + std::string(entry) +
                               ") repeats entry " + std::to_string(j + 1));
      }
    }
    out.push_back(std::move(e).value());
  }
  return out;
}

}  // namespace tvd::daemon
