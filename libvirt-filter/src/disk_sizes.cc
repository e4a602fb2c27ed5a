#include "tvd/libvirt_filter/disk_sizes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tvd::libvirt_filter {

StatusOr<std::uint64_t> FileDiskSizes::SizeOf(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::uint64_t{0};
    return IoError(path + ": " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(path + ": not a regular file");
  }
  std::uint8_t header[32];
  ssize_t n = ::pread(fd, header, sizeof(header), 0);
  if (n < 0) return IoError(path + ": " + std::strerror(errno));
  if (n == static_cast<ssize_t>(sizeof(header)) &&
      std::memcmp(header, "QFI\xfb", 4) == 0) {
    std::uint64_t size = 0;
    for (int i = 24; i < 32; ++i) size = (size << 8) | header[i];
    // Internal snapshots and metadata can make the file larger still.
    return std::max(size, static_cast<std::uint64_t>(st.st_size));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace tvd::libvirt_filter
