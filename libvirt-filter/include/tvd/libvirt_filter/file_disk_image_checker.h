// DiskImageChecker over the host's file system: reads each image of a disk's
// chain itself, the way QEMU would find it, and refuses any chain that could
// make QEMU open a file outside the TVD's storage.
//
// Rules (on top of disk_image_checker.h's contract):
//   - `format` is "qcow2" or "raw"; the image path is absolute, normalized
//     and inside storage_path (IsPathUnder).
//   - No symbolic link anywhere: every directory from "/" down to each
//     image is opened with O_NOFOLLOW, one component at a time (the same as
//     asking that the realpath of the image's directory equal its written
//     path, without the race between the check and the open), and each
//     image with O_NOFOLLOW. A link could point anywhere on the host, and
//     QEMU would follow it.
//   - Each image is a regular file (fstat), opened O_RDONLY|O_NONBLOCK so a
//     FIFO or device node cannot stall the relay.
//   - A raw image names nothing else: done.
//   - A qcow2 image is read (first kQcow2HeaderReadBytes) and parsed
//     (qcow2_header.h). It may not use an external data file. A backing
//     file needs its format recorded in the header (else QEMU would probe
//     the content and a raw file could pass itself off as qcow2 naming
//     anything), and that format must be qcow2 or raw. The backing name must
//     be a plain path: any ':' is refused (QEMU reads "nbd:", "json:",
//     "file:" and any "<word>:" as a protocol). A relative name is resolved
//     against the directory of the image that names it, '.' and '..' are
//     folded, and the result must be inside storage_path.
//   - The backing file must exist (a chain that cannot be read whole cannot
//     be checked), and the chain has at most kMaxBackingFiles backing files
//     and no loop (the same file, by device and inode, seen twice).
//
// Errors, each "<path of the image at fault>: <why>":
//   PermissionDenied for a chain that leaves the storage, a symbolic link,
//   a file that is not regular, a missing backing file, an external data
//   file, a backing format that is missing or not qcow2/raw, a protocol in
//   a backing name, a loop, a chain too long, a format other than
//   qcow2/raw;
//   InvalidArgument "<path>: qcow2 header: ..." for a header that does not
//   parse;
//   IoError for a file that exists but cannot be opened or read.
//
// The check reads the files as they are now; it is run when a domain is
// defined and again before it starts (the header of an image the guest
// writes as raw is the guest's to choose).
#pragma once

#include <string>
#include <string_view>

#include "tvd/libvirt_filter/disk_image_checker.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

class FileDiskImageChecker final : public DiskImageChecker {
 public:
  // Longest chain below the top image that is followed.
  static constexpr int kMaxBackingFiles = 8;

  Status Check(const std::string& path, std::string_view format,
               const std::string& storage_path) override;
};

// `path` with empty and '.' components dropped and each '..' taking away
// the component before it ("/.." is "/"). `path` must be absolute.
std::string NormalizeAbsolutePath(std::string_view path);

}  // namespace tvd::libvirt_filter
