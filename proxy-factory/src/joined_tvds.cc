#include "tvd/proxy_factory/joined_tvds.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "tvd/atomic_file.h"
#include "tvd/file_util.h"
#include "tvd/host/control_protocol.h"
#include "tvd/text.h"

namespace tvd::host {

namespace {
// Far more than any host joins; caps what a damaged file can cost.
constexpr std::size_t kMaxFileBytes = 1024 * 1024;
}  // namespace

JoinedTvds ParseJoinedTvds(const std::string& text, const std::string& path) {
  JoinedTvds out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string name(TrimWhitespace(line));
    if (name.empty()) continue;
    std::string where = path + ":" + std::to_string(number) + ": ";
    if (!IsValidControlName(name)) {
      out.problems.push_back(where + "'" + name.substr(0, 80) +
                             "' is not a valid TVD name");
    } else if (std::find(out.names.begin(), out.names.end(), name) !=
               out.names.end()) {
      out.problems.push_back(where + "TVD '" + name + "' listed twice");
    } else {
      out.names.push_back(name);
    }
  }
  return out;
}

StatusOr<JoinedTvds> LoadJoinedTvds(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    return JoinedTvds{};
  }
  TVD_ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxFileBytes));
  return ParseJoinedTvds(text, path);
}

Status SaveJoinedTvds(const std::string& path,
                      const std::vector<std::string>& names) {
  std::string data;
  for (const std::string& n : names) data += n + "\n";
  // Not secret, but only the factory's: 0600, and the new name must survive
  // a crash like the content.
  return WriteFileAtomically(path, data,
                             {.mode = 0600, .sync_directory = true});
}

}  // namespace tvd::host
