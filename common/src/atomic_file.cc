#include "tvd/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tvd {

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string pattern = path + ".tmp.XXXXXX";
  std::string tmp = pattern;
  const int fd = ::mkstemp(tmp.data());
  // mkstemp may have changed the X's before failing: name the pattern.
  if (fd < 0) return ErrnoError("cannot create " + pattern, errno);
  auto fail = [&](std::string_view what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError(std::string(what) + " " + path, e);
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
  // mkstemp creates 0600; what is written here is not secret.
  if (::fchmod(fd, 0644) != 0) return fail("cannot chmod");
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

}  // namespace tvd
