#include "tvd/pki/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tvd/file_util.h"

namespace tvd::pki {

Status WriteNewFile(const std::string& path, std::span<const std::uint8_t> data,
                    unsigned mode) {
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists(path + " already exists");
    return ErrnoError("cannot create " + path, errno);
  }
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return ErrnoError(std::string(what) + " " + path, err);
  };
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot chmod");
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return ErrnoError("cannot close " + path, err);
  }
  return Status::Ok();
}

StatusOr<std::string> ReadSmallFile(const std::string& path) {
  return ReadFileCapped(path, 1 << 20);
}

}  // namespace tvd::pki
