#include "tvd/proxy_factory/joined_tvds.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

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
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());  // mode 0600
  if (fd < 0) return ErrnoError("cannot create " + tmp, errno);
  auto fail = [&](const std::string& what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError(what + " " + path, e);
  };
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("cannot close " + path, e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("cannot rename into " + path, e);
  }
  return Status::Ok();
}

}  // namespace tvd::host
