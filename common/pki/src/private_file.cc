#include "tvd/pki/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

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
  constexpr std::size_t kMax = 1 << 20;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open " + path, errno);
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMax) {
      ::close(fd);
      return InvalidArgument(path + " is larger than 1 MiB");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace tvd::pki
