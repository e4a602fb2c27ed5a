#include "tvd/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace tvd {
namespace {

using Clock = std::chrono::steady_clock;

// Everything the child needs, prepared before fork() so that the child only
// makes system calls (no allocation between fork and exec).
struct PreparedExec {
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string netns_path;
};

PreparedExec Prepare(const ProcessOptions& options) {
  PreparedExec p;
  p.argv_storage = options.argv;
  for (auto& a : p.argv_storage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& o : options.env) {
      if (o.substr(0, o.find('=')) == key) overridden = true;
    }
    if (!overridden) p.env_storage.push_back(entry);
  }
  for (const auto& o : options.env) p.env_storage.push_back(o);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  if (!options.netns.empty()) p.netns_path = "/run/netns/" + options.netns;
  return p;
}

// Child side: report `step` and errno through the pipe and exit.
[[noreturn]] void ChildFail(int report_fd, const char* step) {
  int err = errno;
  char buf[128];
  int n = 0;
  while (step[n] != '\0' && n < 100) {
    buf[n] = step[n];
    ++n;
  }
  buf[n++] = '\0';
  std::memcpy(buf + n, &err, sizeof(err));
  n += sizeof(err);
  ssize_t ignored = ::write(report_fd, buf, static_cast<size_t>(n));
  (void)ignored;
  ::_exit(127);
}

void RedirectTo(int report_fd, const std::string& path, int target_fd) {
  if (path.empty()) return;
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) ChildFail(report_fd, "open output file");
  if (::dup2(fd, target_fd) < 0) ChildFail(report_fd, "dup2");
  ::close(fd);
}

[[noreturn]] void RunChild(const ProcessOptions& o, const PreparedExec& p,
                           int report_fd, int out_fd, int err_fd) {
  if (o.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Own process group: a daemon's own children can be stopped with it.
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (!p.netns_path.empty()) {
    int fd = ::open(p.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ChildFail(report_fd, "open network namespace");
    if (::setns(fd, CLONE_NEWNET) != 0) ChildFail(report_fd, "setns");
    ::close(fd);
  }
  if (o.new_mount_namespace) {
    if (::unshare(CLONE_NEWNS) != 0) ChildFail(report_fd, "unshare mount ns");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ChildFail(report_fd, "make mounts private");
    }
    if (!p.netns_path.empty()) {
      ::umount2("/sys", MNT_DETACH);
      if (::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
        ChildFail(report_fd, "mount /sys");
      }
    }
    for (const auto& [src, dst] : o.bind_mounts) {
      if (::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC,
                  nullptr) != 0) {
        ChildFail(report_fd, "bind mount");
      }
    }
  }
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0)
    ChildFail(report_fd, "chdir");
  if (out_fd >= 0 && ::dup2(out_fd, STDOUT_FILENO) < 0)
    ChildFail(report_fd, "dup2");
  if (err_fd >= 0 && ::dup2(err_fd, STDERR_FILENO) < 0)
    ChildFail(report_fd, "dup2");
  if (out_fd < 0) RedirectTo(report_fd, o.stdout_path, STDOUT_FILENO);
  if (err_fd < 0) RedirectTo(report_fd, o.stderr_path, STDERR_FILENO);
  if (o.stdin_fd >= 0) {
    if (::dup2(o.stdin_fd, STDIN_FILENO) < 0) ChildFail(report_fd, "dup2");
  } else {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::close(devnull);
    }
  }
  if (o.read_only_root) {
    // A bind remount replaces the mount's flags: keep the ones it had.
    struct statvfs st {};
    if (::statvfs("/", &st) != 0) ChildFail(report_fd, "statvfs /");
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    if (::mount(nullptr, "/", nullptr, flags, nullptr) != 0) {
      ChildFail(report_fd, "remount / read-only");
    }
  }
  ::execvpe(p.argv[0], p.argv.data(), p.envp.data());
  ChildFail(report_fd, "exec");
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

StatusOr<pid_t> Spawn(const ProcessOptions& options, int out_fd, int err_fd) {
  if (options.argv.empty()) return InvalidArgument("no program to start");
  if (!options.bind_mounts.empty() && !options.new_mount_namespace) {
    return InvalidArgument("bind mounts need new_mount_namespace");
  }
  if (options.read_only_root && !options.new_mount_namespace) {
    return InvalidArgument("read_only_root needs new_mount_namespace");
  }
  PreparedExec prepared = Prepare(options);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return ErrnoError("fork", err);
  }
  if (pid == 0) {
    ::close(report[0]);
    RunChild(options, prepared, report[1], out_fd, err_fd);
  }
  ::close(report[1]);
  char buf[128];
  ssize_t n;
  do {
    n = ::read(report[0], buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::string step(buf);
    int err = 0;
    if (static_cast<size_t>(n) >= step.size() + 1 + sizeof(int)) {
      std::memcpy(&err, buf + step.size() + 1, sizeof(err));
    }
    return ErrnoError("cannot start " + options.argv[0] + " (" + step + ")",
                      err);
  }
  return pid;
}

}  // namespace

StatusOr<ChildProcess> ChildProcess::Start(const ProcessOptions& options) {
  TVD_ASSIGN_OR_RETURN(pid_t pid, Spawn(options, -1, -1));
  return ChildProcess(pid);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) (void)Stop(std::chrono::seconds(5));
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_status_(other.exit_status_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) (void)Stop(std::chrono::seconds(5));
    pid_ = other.pid_;
    exit_status_ = other.exit_status_;
    other.pid_ = -1;
  }
  return *this;
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = DecodeWaitStatus(status);
    return false;
  }
  return r == 0;
}

StatusOr<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return FailedPrecondition("no child process");
  auto deadline = Clock::now() + timeout;
  auto delay = std::chrono::milliseconds(1);
  while (Running()) {
    if (Clock::now() >= deadline) {
      return Timeout("process " + std::to_string(pid_) + " still running");
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
  return *exit_status_;
}

Status ChildProcess::Signal(int signal) {
  if (!Running()) return FailedPrecondition("process is not running");
  if (::kill(pid_, signal) != 0) return ErrnoError("kill", errno);
  return Status::Ok();
}

StatusOr<int> ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return FailedPrecondition("no child process");
  if (Running()) {
    ::kill(pid_, SIGTERM);
    if (!Wait(grace).ok()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exit_status_ = DecodeWaitStatus(status);
    }
  }
  int result = exit_status_.value_or(0);
  pid_ = -1;
  return result;
}

pid_t ChildProcess::Release() {
  pid_t p = pid_;
  pid_ = -1;
  return p;
}

StatusOr<CommandResult> RunCommand(const ProcessOptions& options,
                                   std::chrono::milliseconds timeout) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return ErrnoError("pipe2", err);
  }
  ProcessOptions o = options;
  o.stdout_path.clear();
  o.stderr_path.clear();
  StatusOr<pid_t> pid = Spawn(o, out_pipe[1], err_pipe[1]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!pid.ok()) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return pid.status();
  }
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  char buf[8192];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int r = ::poll(fds, 2, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  if (timed_out) {
    ::kill(*pid, SIGKILL);
    while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
    return Timeout(options.argv[0] + " did not finish within " +
                   std::to_string(timeout.count()) + " ms");
  }
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = DecodeWaitStatus(status);
  return result;
}

StatusOr<int> PipeHolding(std::span<const std::uint8_t> secret,
                          std::string_view what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  // It fits the pipe's buffer: no reader is needed yet.
  ssize_t n = ::write(fds[1], secret.data(), secret.size());
  int write_errno = errno;
  ::close(fds[1]);
  if (n != static_cast<ssize_t>(secret.size())) {
    ::close(fds[0]);
    return ErrnoError("writing " + std::string(what) + " to a pipe",
                      n < 0 ? write_errno : EPIPE);
  }
  return fds[0];
}

Status RunChecked(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout) {
  ProcessOptions o;
  o.argv = argv;
  TVD_ASSIGN_OR_RETURN(CommandResult r, RunCommand(o, timeout));
  if (r.exit_status != 0) {
    std::string cmd;
    for (const auto& a : argv) {
      if (!cmd.empty()) cmd += ' ';
      cmd += a;
    }
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' '))
      err.pop_back();
    return IoError("'" + cmd + "' exited with " +
                   std::to_string(r.exit_status) +
                   (err.empty() ? "" : ": " + err));
  }
  return Status::Ok();
}

}  // namespace tvd
