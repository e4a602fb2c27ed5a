#include "tvd/libvirt_filter/disk_sizes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tvd/libvirt_filter/qcow2_header.h"

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
  char header[32];
  ssize_t n = ::pread(fd, header, sizeof(header), 0);
  if (n < 0) return IoError(path + ": " + std::strerror(errno));
  std::optional<std::uint64_t> virtual_size =
      Qcow2VirtualSize(std::string_view(header, static_cast<std::size_t>(n)));
  if (virtual_size.has_value()) {
    // Internal snapshots and metadata can make the file larger still.
    return std::max(*virtual_size, static_cast<std::uint64_t>(st.st_size));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace tvd::libvirt_filter
