// Tells the service manager where a daemon is in its life: systemd's
// NOTIFY_SOCKET datagram protocol (sd_notify(3)), for Type=notify units,
// without linking libsystemd.
//
// The protocol: NOTIFY_SOCKET names a SOCK_DGRAM UNIX socket, a path
// ("/run/systemd/notify") or an abstract name ("@name": a leading NUL in
// sun_path); each state change is one datagram of newline-separated
// "KEY=VALUE" lines ("READY=1", "STOPPING=1", "STATUS=...").
//
// RunDaemon (run_daemon.h) sends READY=1 once the daemon listens (after
// Start and the address file) and STOPPING=1 when a stop begins.
#pragma once

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::daemon {

class Notifier {
 public:
  // A notifier that sends nothing (no service manager asked for notices).
  Notifier() = default;

  // Reads NOTIFY_SOCKET and removes it from the environment, so that the
  // processes this daemon starts (proxy-factory's tvd-proxy) do not speak
  // for its unit. Call before any thread starts (unsetenv). Unset or empty:
  // a notifier that sends nothing. Otherwise ForSocket's errors.
  static StatusOr<Notifier> FromEnvironment();

  // `address` as NOTIFY_SOCKET holds it. Errors (InvalidArgument):
  //   "NOTIFY_SOCKET 'A' is neither an absolute path nor @abstract"
  //   "NOTIFY_SOCKET 'A' is longer than N bytes"  (sun_path's room)
  // A vsock address ("vsock:...", systemd 254) is refused by the first.
  static StatusOr<Notifier> ForSocket(std::string_view address);

  // True when Notify sends anything.
  bool enabled() const { return !address_.empty(); }

  // Sends `state` ("READY=1") as one datagram; Ok without sending when not
  // enabled. Errors: IoError "cannot notify NOTIFY_SOCKET 'A': ERRNO" (no
  // listener, a socket of the wrong type, a short send).
  Status Notify(std::string_view state) const;

 private:
  explicit Notifier(std::string address) : address_(std::move(address)) {}
  std::string address_;  // as given: "/path" or "@name"
};

}  // namespace tvd::daemon
