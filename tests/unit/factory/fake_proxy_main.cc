// A stand-in proxy process for the factory's supervision tests: serves the
// control protocol on --socket, answers status, exits 0 on leave. With
// --fail-join it exits at once with an error line, as a proxy whose join was
// refused does.
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>

#include "tvd/host/control_socket.h"

int main(int argc, char** argv) {
  std::string tvd, socket_path;
  bool fail_join = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tvd" && i + 1 < argc) tvd = argv[++i];
    if (a == "--socket" && i + 1 < argc) socket_path = argv[++i];
    if (a == "--fail-join") fail_join = true;
  }
  if (fail_join) {
    std::cerr << "error tvd-proxy: joining TVD '" << tvd
              << "': permission-denied: host not authorized\n";
    return 1;
  }
  auto server = tvd::host::ControlServer::Listen(socket_path, {});
  if (!server.ok()) return 1;
  bool left = false;
  auto handler = [&](const tvd::host::ControlRequest& req,
                     const tvd::host::PeerCredentials&) {
    tvd::host::ControlResponse r;
    r.result = {
        {"tvd", tvd}, {"pid", ::getpid()}, {"vms", nlohmann::json::array()}};
    if (req.op == tvd::host::ControlOp::kLeave) left = true;
    if (req.op == tvd::host::ControlOp::kAttach) {
      r.status = tvd::PermissionDenied("attach refused by test proxy");
    }
    return r;
  };
  while (!left) (*server)->ServeOne(handler, std::chrono::milliseconds(100));
  return 0;
}
