// Local UNIX stream sockets carrying the host control protocol
// (control_protocol.h), with the peer's credentials checked by the kernel
// (SO_PEERCRED), never by anything the peer says.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "tvd/host/control_protocol.h"
#include "tvd/status.h"

namespace tvd::host {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Who may use a control socket: uid 0, the server's own uid, or a member
// (primary or supplementary group) of `allowed_gid` when set. Everyone else
// is refused (default deny).
struct PeerPolicy {
  std::optional<gid_t> allowed_gid;
  bool allow_own_uid = true;
};

// Returns OK or PermissionDenied naming the uid and what was required.
Status CheckPeer(const PeerCredentials& peer, const PeerPolicy& policy);

// Where the proxy of `tvd` serves quota claims (op "usage") when the proxies
// run in `run_dir`: RUN_DIR/usage/<tvd>.sock. The proxy-factory passes it to
// each proxy (--usage-socket); the libvirt relay calls it.
std::string UsageSocketPath(const std::string& run_dir, const std::string& tvd);

// Reads one frame; InvalidArgument for an oversized length, Unavailable when
// the peer closed before a full frame, Timeout after `timeout`.
StatusOr<std::string> ReadFrame(int fd, std::chrono::milliseconds timeout);
Status WriteAll(int fd, std::string_view data);

// One request / response exchange with a control socket. Unavailable (with
// the path and reason) when nobody listens there.
StatusOr<ControlResponse> CallControl(const std::string& socket_path,
                                      const ControlRequest& request,
                                      std::chrono::milliseconds timeout);

// A single-threaded server: accepts one connection at a time, checks the
// peer, reads one request, hands it to the handler, writes the response,
// closes. A refused peer gets a permission-denied response and is logged.
class ControlServer {
 public:
  using Handler = std::function<ControlResponse(const ControlRequest&,
                                                const PeerCredentials&)>;

  // Binds `path` (a stale socket file there is replaced; the file is mode
  // 0660) and listens.
  static StatusOr<std::unique_ptr<ControlServer>> Listen(
      const std::string& path, PeerPolicy policy);
  ~ControlServer();  // closes and unlinks the socket

  // Serves until `stop` is true (checked at least every 200 ms).
  void Serve(const Handler& handler, const std::atomic<bool>& stop);
  // Serves at most one connection arriving within `wait`; false if none.
  bool ServeOne(const Handler& handler, std::chrono::milliseconds wait);

  const std::string& path() const { return path_; }
  // The listening socket (poll it with POLLIN among other descriptors).
  int fd() const { return fd_; }

 private:
  ControlServer(std::string path, int fd, PeerPolicy policy)
      : path_(std::move(path)), fd_(fd), policy_(policy) {}
  void HandleConnection(int conn, const Handler& handler);
  std::string path_;
  int fd_ = -1;
  PeerPolicy policy_;
};

}  // namespace tvd::host
