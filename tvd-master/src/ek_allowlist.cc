#include "tvd/master/ek_allowlist.h"

#include <fstream>
#include <sstream>

#include "tvd/pki/identity.h"

namespace tvd::master {

StatusOr<std::multimap<std::string, Sha256Digest>> LoadEkAllowlist(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("EK allowlist " + path + " cannot be read");
  std::multimap<std::string, Sha256Digest> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream fields(line);
    std::string host, hex, extra;
    fields >> host;
    if (host.empty() || host[0] == '#') continue;
    fields >> hex >> extra;
    auto d = Sha256FromHex(hex);
    if (!pki::IsValidName(host) || !d.ok() || !extra.empty()) {
      return InvalidArgument(path + ":" + std::to_string(number) +
                             ": expected '<host> <sha256 hex of EK public>'");
    }
    out.emplace(host, *d);
  }
  return out;
}

}  // namespace tvd::master
