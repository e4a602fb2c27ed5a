// Helpers for tests with real guests: the guest image and guest-exec.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tvd/process.h"
#include "tvd/status.h"

namespace tvd::testing {

// The image of testbed/guest/build-guest.sh in TVD_GUEST_CACHE_DIR
// (vmlinuz, initrd.img, disk.img); built when missing or out of date
// (the first build downloads two Debian packages).
struct GuestImage {
  std::string dir;
  std::string kernel() const { return dir + "/vmlinuz"; }
  std::string initrd() const { return dir + "/initrd.img"; }
  std::string disk() const { return dir + "/disk.img"; }
};
// Unavailable with build-guest.sh's message when the build fails.
StatusOr<GuestImage> BuildGuestImage();

// The QEMU command line the tests boot `image` with (TCG, 128 MiB, no
// display, no default devices, the kernel command line `append`); callers
// add their devices and the serial port.
std::vector<std::string> GuestQemuArgv(const GuestImage& image,
                                       const std::string& append);

// Runs testbed/guest/guest-exec --socket SOCKET --timeout TIMEOUT_S --
// COMMAND and returns its exit status and output (the guest command's
// status, 124 on timeout, 125 on guest-exec's own errors).
StatusOr<CommandResult> GuestExec(const std::string& socket,
                                  const std::string& command,
                                  int timeout_s = 30);
// The same with raw guest-exec arguments (for testing guest-exec itself).
StatusOr<CommandResult> GuestExecArgs(const std::vector<std::string>& args);

// Calls GuestExec(socket, "true") until the guest answers or `timeout`
// passes; returns how long that took.
StatusOr<std::chrono::milliseconds> WaitForGuestShell(
    const std::string& socket, std::chrono::seconds timeout);

}  // namespace tvd::testing
