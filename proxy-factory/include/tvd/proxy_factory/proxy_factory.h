// The proxy-factory: one tvd-proxy process per TVD joined on this host.
//
// join   starts a proxy for the TVD (which joins through the master at
//        start-up) and waits until it answers on its control socket;
//        AlreadyExists when the TVD has a proxy already.
// leave  asks the proxy to leave, waits for it to exit, forgets it.
// attach / detach  forwarded to the TVD's proxy.
// status the factory's view (proxies, pids, restarts) plus each proxy's.
// Supervise() restarts a proxy that died (not one that left); the new
// process reconciles from OVSDB, charon, libvirt and the master. A proxy
// that exits with status 0 left its TVD on its own (eviction, TVD removed)
// and is forgotten, not restarted.
// The joined TVDs are remembered in RUN_DIR/joined (joined_tvds.h), written
// after every join, leave and forgotten proxy, so a restarted factory starts
// their proxies again with RestoreJoined().
// Single-threaded: the daemon calls Handle and Supervise from one loop.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tvd/host/control_protocol.h"
#include "tvd/host/control_socket.h"
#include "tvd/process.h"
#include "tvd/status.h"

namespace tvd::host {

// How a proxy process is started; a test can start something else.
class ProxyLauncher {
 public:
  virtual ~ProxyLauncher() = default;
  virtual StatusOr<ChildProcess> Launch(const std::string& tvd,
                                        const std::string& socket_path,
                                        const std::string& log_path) = 0;
};

// Runs `argv_prefix... --tvd TVD --socket PATH`, stderr to `log_path`.
class ProcessProxyLauncher : public ProxyLauncher {
 public:
  explicit ProcessProxyLauncher(std::vector<std::string> argv_prefix)
      : argv_prefix_(std::move(argv_prefix)) {}
  StatusOr<ChildProcess> Launch(const std::string& tvd,
                                const std::string& socket_path,
                                const std::string& log_path) override;

 private:
  std::vector<std::string> argv_prefix_;
};

struct FactoryConfig {
  std::string run_dir;  // proxies' sockets and logs: <run_dir>/<tvd>.sock
  std::chrono::milliseconds start_timeout{20000};
  std::chrono::milliseconds call_timeout{60000};
  std::chrono::milliseconds restart_delay{500};
};

class ProxyFactory {
 public:
  ProxyFactory(FactoryConfig config, ProxyLauncher& launcher);
  ~ProxyFactory();  // stops every proxy (SIGTERM) without leaving

  ControlResponse Handle(const ControlRequest& request);

  // Restarts proxies that died (exit status other than 0) and forgets those
  // that exited 0 (left on their own); returns how many were restarted.
  int Supervise();

  // Stops every proxy (SIGTERM, then SIGKILL); TVD memberships stay (and
  // RUN_DIR/joined is left as it is).
  void StopAll();

  // Starts a proxy for every TVD listed in RUN_DIR/joined (call once, at
  // start-up, before serving requests); each joins again and reconciles.
  // A proxy that cannot start stays listed as restarting and Supervise()
  // retries it. Bad lines of the file are logged and skipped. Returns how
  // many proxies are running.
  int RestoreJoined();

  // For tests and status: pid of the TVD's proxy, or -1.
  pid_t ProxyPid(const std::string& tvd) const;
  int Restarts(const std::string& tvd) const;

 private:
  struct Proxy {
    ChildProcess process;
    std::string socket_path;
    std::string log_path;
    int restarts = 0;
    std::chrono::steady_clock::time_point died_at{};
    bool dead = false;
  };
  Status Join(const std::string& tvd);
  Status Leave(const std::string& tvd);
  ControlResponse Forward(const ControlRequest& request);
  StatusOr<ChildProcess> StartProxy(const std::string& tvd, Proxy& proxy);
  nlohmann::json StatusJson();
  std::string LogTail(const std::string& path) const;
  // Writes the TVDs of proxies_ to RUN_DIR/joined; a failure is logged (the
  // proxies run regardless; only the memory across a restart is at risk).
  void SaveJoined();
  Proxy NewProxy(const std::string& tvd) const;

  FactoryConfig config_;
  ProxyLauncher& launcher_;
  std::map<std::string, Proxy> proxies_;
};

}  // namespace tvd::host
