#include "guest_util.h"

#include <vector>

namespace tvd::testing {

StatusOr<GuestImage> BuildGuestImage() {
  ProcessOptions opts;
  opts.argv = {std::string(TVD_SOURCE_DIR) + "/testbed/guest/build-guest.sh",
               TVD_GUEST_CACHE_DIR};
  TVD_ASSIGN_OR_RETURN(CommandResult r,
                       RunCommand(opts, std::chrono::seconds(300)));
  if (r.exit_status != 0) {
    return Unavailable("build-guest.sh exited " +
                       std::to_string(r.exit_status) + ": " + r.err);
  }
  return GuestImage{TVD_GUEST_CACHE_DIR};
}

std::vector<std::string> GuestQemuArgv(const GuestImage& image,
                                       const std::string& append) {
  return {"qemu-system-x86_64",
          "-machine",
          "pc,accel=tcg",
          "-m",
          "128",
          "-display",
          "none",
          "-no-user-config",
          "-nodefaults",
          "-kernel",
          image.kernel(),
          "-initrd",
          image.initrd(),
          "-append",
          append};
}

StatusOr<CommandResult> GuestExecArgs(const std::vector<std::string>& args) {
  ProcessOptions opts;
  opts.argv = {std::string(TVD_SOURCE_DIR) + "/testbed/guest/guest-exec"};
  opts.argv.insert(opts.argv.end(), args.begin(), args.end());
  // guest-exec keeps its own deadline; this one only catches a hang.
  return RunCommand(opts, std::chrono::seconds(120));
}

StatusOr<CommandResult> GuestExec(const std::string& socket,
                                  const std::string& command, int timeout_s) {
  return GuestExecArgs({"--socket", socket, "--timeout",
                        std::to_string(timeout_s), "--", command});
}

StatusOr<std::chrono::milliseconds> WaitForGuestShell(
    const std::string& socket, std::chrono::seconds timeout) {
  auto start = std::chrono::steady_clock::now();
  TVD_ASSIGN_OR_RETURN(
      CommandResult r,
      GuestExec(socket, "true", static_cast<int>(timeout.count())));
  if (r.exit_status != 0) {
    return Unavailable("guest on " + socket + " did not answer: guest-exec " +
                       "exited " + std::to_string(r.exit_status) + ": " +
                       r.err);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
}

}  // namespace tvd::testing
