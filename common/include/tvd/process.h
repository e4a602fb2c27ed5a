// Starting, watching and stopping child processes.
//
// Daemons (proxy-factory spawning proxies) and tests (starting ovsdb-server,
// charon, libvirtd, swtpm, QEMU) both need to start a program in a given
// network namespace, optionally in a private mount namespace, and later stop
// exactly that process by PID. Nothing here ever signals a process it did not
// start.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tvd/status.h"

namespace tvd {

struct ProcessOptions {
  // argv[0] is looked up in PATH when it has no '/'.
  std::vector<std::string> argv;
  // "KEY=VALUE" entries added to (or replacing in) the parent's environment.
  std::vector<std::string> env;
  // Name of a network namespace under /run/netns to enter, or empty.
  std::string netns;
  // Gives the child a private mount namespace (mount propagation private).
  // When `netns` is also set, /sys is remounted so it shows that namespace's
  // devices, as `ip netns exec` does.
  bool new_mount_namespace = false;
  // Bind mounts made in the private mount namespace: {source, target}.
  // Requires new_mount_namespace.
  std::vector<std::pair<std::string, std::string>> bind_mounts;
  // After the bind mounts and the stdout/stderr files are set up, the mount
  // at / is remounted read-only in the private namespace. Only that one
  // mount: /proc, /sys, /dev and every bind mount above stay writable, so a
  // path the child must write on the root file system is listed in
  // bind_mounts (bound on itself). Used to run libvirtd with a read-only
  // view of the host (see docs/host.md "libvirt's own confinement").
  // Requires new_mount_namespace.
  bool read_only_root = false;
  // Files that receive the child's stdout / stderr (created, appended).
  // Empty: inherit the parent's.
  std::string stdout_path;
  std::string stderr_path;
  // A descriptor the child gets as its stdin (e.g. the read end of a pipe
  // that carries a secret, which must not appear in argv); the caller keeps
  // and closes its own copy. -1: /dev/null.
  int stdin_fd = -1;
  // Working directory; empty: the parent's.
  std::string cwd;
  // The child is killed (SIGKILL) when the thread that started it exits, so a
  // crashed test leaves no daemon behind. Daemons that must outlive their
  // parent set this to false.
  bool die_with_parent = true;
};

// A started child. Move-only; the destructor stops a still-running child.
class ChildProcess {
 public:
  // Forks and execs. Fails with the reason (exec failure is reported through
  // a close-on-exec pipe, so "no such program" is an error here, not later).
  static StatusOr<ChildProcess> Start(const ProcessOptions& options);

  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // True while the child has not exited (reaps it if it has).
  bool Running();

  // Exit status once the child has exited: the exit code, or 128 + signal.
  std::optional<int> exit_status() const { return exit_status_; }

  // Waits up to `timeout` for the child to exit on its own.
  // Returns the exit status, or Timeout.
  StatusOr<int> Wait(std::chrono::milliseconds timeout);

  // Sends `signal` to the child (only if it is still ours and running).
  Status Signal(int signal);

  // SIGTERM, wait up to `grace`, then SIGKILL; always reaps. Returns the exit
  // status (128 + 9 when it had to be killed). No-op when already stopped.
  StatusOr<int> Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // Forgets the child without stopping it (e.g. a daemon that detaches).
  pid_t Release();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

struct CommandResult {
  int exit_status = 0;  // exit code, or 128 + signal
  std::string out;      // captured stdout
  std::string err;      // captured stderr
};

// Runs a command to completion with stdout/stderr captured (stdout_path and
// stderr_path in `options` are ignored). Kills it after `timeout`.
StatusOr<CommandResult> RunCommand(
    const ProcessOptions& options,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The read end of a pipe (close-on-exec) that holds `secret` and is closed
// for writing: a child's stdin_fd for a key that must not appear in argv or
// a file. The caller closes it. `secret` must fit the pipe's buffer (64
// KiB; keys and passphrases do). Errors: the errno of pipe2, or of the
// write as "writing WHAT to a pipe".
StatusOr<int> PipeHolding(std::span<const std::uint8_t> secret,
                          std::string_view what);

// Shorthand: run argv, return OK only when it exits 0; the error names the
// command and carries its stderr.
Status RunChecked(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace tvd
