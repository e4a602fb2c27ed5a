#include "tvd/libvirt_filter/file_disk_image_checker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/libvirt_filter/qcow2_header.h"
#include "tvd/unique_fd.h"

namespace tvd::libvirt_filter {
namespace {

Status Denied(const std::string& path, const std::string& why) {
  return PermissionDenied(path + ": " + why);
}

std::vector<std::string> Components(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at <= path.size()) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(at, slash - at);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    at = slash + 1;
  }
  return parts;
}

// Opens the image at `path` (absolute, normalized) one component at a time,
// never following a symbolic link. nullopt when it does not exist.
StatusOr<std::optional<UniqueFd>> OpenWithoutLinks(const std::string& path) {
  std::vector<std::string> parts = Components(path);
  if (parts.empty()) return Denied(path, "not a regular file");
  UniqueFd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return ErrnoError("cannot open /", errno);
  std::string walked;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += "/" + parts[i];
    int fd = ::openat(dir.get(), parts[i].c_str(),
                      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) return std::optional<UniqueFd>();
      if (err == ELOOP || err == ENOTDIR) {
        struct stat st;
        if (::fstatat(dir.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) ==
                0 &&
            S_ISLNK(st.st_mode)) {
          return Denied(path, walked +
                                  " is a symbolic link (no link may lie on "
                                  "the way to a disk image)");
        }
        return Denied(path, walked + " is not a directory");
      }
      return ErrnoError(path + ": cannot open " + walked, err);
    }
    dir = UniqueFd(fd);
  }
  int fd = ::openat(dir.get(), parts.back().c_str(),
                    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return std::optional<UniqueFd>();
    if (err == ELOOP) {
      return Denied(path,
                    "is a symbolic link (a disk image must be the file "
                    "itself)");
    }
    return ErrnoError(path + ": cannot open", err);
  }
  return std::optional<UniqueFd>(UniqueFd(fd));
}

StatusOr<std::string> ReadHead(int fd, const std::string& path) {
  std::string bytes(kQcow2HeaderReadBytes, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got,
                        static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(path + ": cannot read", errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

bool AllowedFormat(std::string_view format) {
  return format == "qcow2" || format == "raw";
}

std::string Directory(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string NormalizeAbsolutePath(std::string_view path) {
  std::vector<std::string> out;
  for (std::string& part : Components(path)) {
    if (part == "..") {
      if (!out.empty()) out.pop_back();
    } else {
      out.push_back(std::move(part));
    }
  }
  if (out.empty()) return "/";
  std::string joined;
  for (const std::string& p : out) joined += "/" + p;
  return joined;
}

Status FileDiskImageChecker::Check(const std::string& path,
                                   std::string_view format,
                                   const std::string& storage_path) {
  const std::string storage_note = "the TVD storage " + storage_path + "/";
  if (!AllowedFormat(format)) {
    return Denied(path, "disk format '" + PrintableBytes(format) +
                            "' is not allowed (only qcow2 and raw)");
  }
  if (!IsPathUnder(path, storage_path)) {
    return Denied(path, "is not inside " + storage_note);
  }
  std::string current = path;
  std::string current_format(format);
  std::set<std::pair<dev_t, ino_t>> seen;
  for (int depth = 0;; ++depth) {
    TVD_ASSIGN_OR_RETURN(std::optional<UniqueFd> fd, OpenWithoutLinks(current));
    if (!fd.has_value()) {
      if (depth == 0) return Status::Ok();  // the contract: libvirt reports it
      return Denied(current,
                    "does not exist (a backing chain must be whole "
                    "to be checked)");
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) {
      return ErrnoError(current + ": cannot stat", errno);
    }
    if (!S_ISREG(st.st_mode)) return Denied(current, "is not a regular file");
    if (!seen.insert({st.st_dev, st.st_ino}).second) {
      return Denied(current, "appears twice in the backing chain of " + path +
                                 " (a loop)");
    }
    if (current_format == "raw") return Status::Ok();

    TVD_ASSIGN_OR_RETURN(std::string head, ReadHead(fd->get(), current));
    StatusOr<Qcow2Header> header = ParseQcow2Header(head);
    if (!header.ok()) {
      return InvalidArgument(current + ": " + header.status().message());
    }
    if (header->UsesExternalDataFile()) {
      std::string name = header->data_file.has_value()
                             ? " '" + PrintableBytes(*header->data_file) + "'"
                             : "";
      return Denied(current, "qcow2 external data file" + name +
                                 " is not allowed (an image's data must be "
                                 "inside the image)");
    }
    if (!header->backing_file.has_value()) return Status::Ok();
    const std::string& name = *header->backing_file;
    const std::string quoted = "'" + PrintableBytes(name) + "'";
    if (!header->backing_format.has_value()) {
      return Denied(current, "backing file " + quoted +
                                 ": backing file format not recorded in the "
                                 "header; probing is not allowed");
    }
    if (!AllowedFormat(*header->backing_format)) {
      return Denied(current, "backing file " + quoted + " has format '" +
                                 PrintableBytes(*header->backing_format) +
                                 "' (only qcow2 and raw are allowed)");
    }
    if (name.find(':') != std::string::npos) {
      return Denied(current, "backing file " + quoted +
                                 " is not a plain file path (QEMU reads "
                                 "'<word>:' as a protocol)");
    }
    std::string resolved = NormalizeAbsolutePath(
        name.front() == '/' ? name : Directory(current) + "/" + name);
    if (!IsPathUnder(resolved, storage_path)) {
      return Denied(current, "backing file " + quoted + " (" +
                                 PrintableBytes(resolved) + ") is not inside " +
                                 storage_note);
    }
    if (depth + 1 > kMaxBackingFiles) {
      return Denied(current, "backing chain of " + path + " is longer than " +
                                 std::to_string(kMaxBackingFiles) +
                                 " backing files");
    }
    current = std::move(resolved);
    current_format = *header->backing_format;
  }
}

}  // namespace tvd::libvirt_filter
