// How much of the host's storage a disk image can take: what the per-host
// disk quota (tenant_quota.h) charges for it.
#pragma once

#include <cstdint>
#include <string>

#include "tvd/status.h"

namespace tvd::libvirt_filter {

class DiskSizes {
 public:
  virtual ~DiskSizes() = default;
  // The size in bytes the image at `path` can grow to: a qcow2 image's
  // virtual size (from its header) or its file size if larger, any other
  // file's size. 0 for a path
  // that does not exist (libvirt refuses to start such a domain, and a
  // cdrom may be empty). InvalidArgument "<path>: not a regular file" for
  // anything else that is not a regular file; IoError when it cannot be
  // read.
  virtual StatusOr<std::uint64_t> SizeOf(const std::string& path) = 0;
};

// Reads the file system. Only the first 32 bytes of an image are read: the
// qcow2 magic "QFI\xfb" and the big-endian 64-bit virtual size at offset 24.
// Opened without blocking (a FIFO never stalls the relay) and checked to be
// a regular file before anything is read.
class FileDiskSizes : public DiskSizes {
 public:
  StatusOr<std::uint64_t> SizeOf(const std::string& path) override;
};

}  // namespace tvd::libvirt_filter
