#include "tvd/master/config.h"

#include <arpa/inet.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tvd/policy/values.h"
#include "tvd/text.h"

namespace tvd::master {
StatusOr<MasterConfig> ParseMasterConfig(std::string_view text,
                                         std::string_view source) {
  MasterConfig c;
  std::map<std::string, std::string*> paths = {
      {"ca_cert", &c.ca_cert},
      {"cert", &c.cert},
      {"key", &c.key},
      {"policy_dir", &c.policy_dir},
      {"state_db", &c.state_db},
      {"kek_file", &c.kek_file},
      {"ek_allowlist", &c.ek_allowlist}};
  std::set<std::string> seen;
  int number = 0;
  std::string src(source);
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = TrimWhitespace(text.substr(0, nl));
    text =
        nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    std::string where = src + ":" + std::to_string(number) + ": ";
    if (line.empty() || line.front() == '#') continue;
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(where + "expected 'key = value'");
    }
    std::string key(TrimWhitespace(line.substr(0, eq)));
    std::string value(TrimWhitespace(line.substr(eq + 1)));
    if (!seen.insert(key).second) {
      return InvalidArgument(where + "key '" + key + "' given twice");
    }
    if (value.empty()) {
      return InvalidArgument(where + "key '" + key + "' has no value");
    }
    if (key == "listen_address") {
      unsigned char buf[16];
      if (inet_pton(AF_INET, value.c_str(), buf) != 1 &&
          inet_pton(AF_INET6, value.c_str(), buf) != 1) {
        return InvalidArgument(where + "listen_address '" + value +
                               "' is not a numeric IP address");
      }
      c.listen_address = value;
    } else if (key == "listen_port") {
      auto port = policy::ParseDecimal(value, 1, 65535);
      if (!port) {
        return InvalidArgument(where + "listen_port '" + value +
                               "' is not a port number 1..65535");
      }
      c.listen_port = static_cast<std::uint16_t>(*port);
    } else if (auto it = paths.find(key); it != paths.end()) {
      if (value.front() != '/') {
        return InvalidArgument(where + "key '" + key +
                               "' must be an absolute path");
      }
      *it->second = value;
    } else {
      return InvalidArgument(where + "unknown key '" + key + "'");
    }
  }
  for (const char* required :
       {"listen_port", "ca_cert", "cert", "key", "policy_dir", "state_db",
        "kek_file", "ek_allowlist"}) {
    if (!seen.count(required)) {
      return InvalidArgument(src + ": missing key '" + required + "'");
    }
  }
  return c;
}

StatusOr<MasterConfig> LoadMasterConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("config " + path + " cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseMasterConfig(buffer.str(), path);
}

}  // namespace tvd::master
