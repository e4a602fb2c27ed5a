#include "tvd/proxy/luks_qcow2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "tvd/process.h"
#include "tvd/text.h"

namespace tvd::proxy {

namespace {

// qemu-img chooses the LUKS PBKDF2 iteration count by timing a round of it
// in the thread's CPU time. Where the kernel accounts CPU time in whole
// scheduler ticks (seen on virtual machines), a short round can read as
// 0 ms, and qemu-img gives up with this message; the next try measures
// again and usually sees a tick.
constexpr char kCpuTimingFailure[] = "Unable to get accurate CPU usage";
constexpr int kAttempts = 30;

// One qemu-img run with the passphrase on its stdin.
StatusOr<CommandResult> RunQemuImg(const std::string& path,
                                   std::uint64_t size_mib,
                                   const SecureBytes& passphrase) {
  TVD_ASSIGN_OR_RETURN(int stdin_fd,
                       PipeHolding(passphrase.view(), "the disk passphrase"));
  ProcessOptions o;
  o.argv = {"qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "--object",
            "secret,id=disk-key,format=raw,file=/dev/stdin",
            "-o",
            "encrypt.format=luks,encrypt.key-secret=disk-key",
            path,
            std::to_string(size_mib) + "M"};
  o.stdin_fd = stdin_fd;
  auto r = RunCommand(o, std::chrono::minutes(2));
  ::close(stdin_fd);
  return r;
}

}  // namespace

StatusOr<int> ClaimNewDiskFile(const std::string& path,
                               const SecureBytes& passphrase) {
  if (path.empty() || path.front() != '/') {
    return InvalidArgument("encrypted disk path must be absolute, got '" +
                           path + "'");
  }
  if (passphrase.empty()) return InvalidArgument("empty disk passphrase");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return AlreadyExists("encrypted disk " + path + " already exists");
    }
    return ErrnoError("creating encrypted disk " + path, errno);
  }
  return fd;
}

Status CreateLuksQcow2(const std::string& path, std::uint64_t size_mib,
                       const SecureBytes& passphrase) {
  // Claimed exclusively first: qemu-img would truncate an existing file,
  // and a disk that appeared meanwhile must not be lost.
  TVD_ASSIGN_OR_RETURN(int fd, ClaimNewDiskFile(path, passphrase));
  ::close(fd);
  std::string last_error;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto r = RunQemuImg(path, size_mib, passphrase);
    if (!r.ok()) {
      ::unlink(path.c_str());
      return r.status().WithContext("creating encrypted disk " + path);
    }
    if (r->exit_status == 0) {
      if (::chmod(path.c_str(), 0600) != 0) {
        int err = errno;
        ::unlink(path.c_str());
        return ErrnoError("chmod 0600 " + path, err);
      }
      return Status::Ok();
    }
    last_error = std::string(TrimWhitespace(r->err));
    if (last_error.find(kCpuTimingFailure) == std::string::npos) break;
  }
  ::unlink(path.c_str());
  return FailedPrecondition("qemu-img could not create encrypted disk " + path +
                            ": " + last_error);
}

}  // namespace tvd::proxy
