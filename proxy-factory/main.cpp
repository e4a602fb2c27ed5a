// proxy-factory: the host daemon behind tvdctl's host commands. Parses flags,
// wires the control socket to ProxyFactory (proxy_factory.h), and runs one
// loop that serves requests and supervises proxies until SIGTERM.
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tvd/host/control_socket.h"
#include "tvd/log.h"
#include "tvd/proxy_factory/proxy_factory.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

constexpr char kUsage[] =
    "usage: proxy-factory [--socket PATH] [--run-dir DIR] [--group NAME]\n"
    "                     [--proxy PATH] [--proxy-arg ARG]...\n"
    "                     [--state-dir DIR]\n"
    "  --socket PATH    control socket (default /run/tvd/proxy-factory.sock)\n"
    "  --run-dir DIR    proxies' sockets and logs (default /run/tvd/proxies)\n"
    "  --group NAME     group allowed on the control socket besides root\n"
    "  --proxy PATH     tvd-proxy binary (default: tvd-proxy beside this one)\n"
    "  --proxy-arg ARG  extra argument for every proxy (repeatable), e.g.\n"
    "                   --proxy-arg=--libvirt-uri=qemu:///system\n"
    "  --state-dir DIR  root-owned directory where each proxy records the VMs\n"
    "                   it admitted (default: the proxy's, "
    "/var/lib/tvd/proxy)\n";

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  tvd::log::SetComponent("proxy-factory");
  std::string socket_path = "/run/tvd/proxy-factory.sock";
  std::string run_dir = "/run/tvd/proxies";
  std::string group;
  std::string proxy = SelfDir() + "/../tvd-proxy/tvd-proxy";
  if (::access(proxy.c_str(), X_OK) != 0) proxy = SelfDir() + "/tvd-proxy";
  std::vector<std::string> proxy_args;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    if (auto eq = a.find('='); eq != std::string::npos && a.starts_with("--")) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a != "--help" && i + 1 < args.size()) {
      value = args[++i];
    } else if (a != "--help") {
      std::cerr << "proxy-factory: " << a << " needs a value\n" << kUsage;
      return 2;
    }
    if (a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--socket") {
      socket_path = value;
    } else if (a == "--run-dir") {
      run_dir = value;
    } else if (a == "--group") {
      group = value;
    } else if (a == "--proxy") {
      proxy = value;
    } else if (a == "--proxy-arg") {
      proxy_args.push_back(value);
    } else if (a == "--state-dir") {
      proxy_args.push_back("--state-dir=" + value);
    } else {
      std::cerr << "proxy-factory: unknown option " << a << "\n" << kUsage;
      return 2;
    }
  }
  tvd::host::PeerPolicy peers;
  if (!group.empty()) {
    struct group* g = ::getgrnam(group.c_str());
    if (g == nullptr) {
      std::cerr << "proxy-factory: no group '" << group << "'\n";
      return 2;
    }
    peers.allowed_gid = g->gr_gid;
  }
  if (::mkdir(run_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::cerr << "proxy-factory: cannot create " << run_dir << ": "
              << std::strerror(errno) << "\n";
    return 1;
  }
  auto server = tvd::host::ControlServer::Listen(socket_path, peers);
  if (!server.ok()) {
    std::cerr << "proxy-factory: " << server.status().ToString() << "\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> prefix = {proxy};
  prefix.insert(prefix.end(), proxy_args.begin(), proxy_args.end());
  tvd::host::ProcessProxyLauncher launcher(prefix);
  tvd::host::ProxyFactory factory({.run_dir = run_dir}, launcher);
  tvd::log::Info("listening on ", socket_path);
  // The TVDs joined before this factory stopped get their proxies back.
  factory.RestoreJoined();
  auto handler = [&](const tvd::host::ControlRequest& req,
                     const tvd::host::PeerCredentials& peer) {
    tvd::log::Info("uid ", peer.uid, " pid ", peer.pid, ": ",
                   tvd::host::ControlOpName(req.op),
                   req.tvd.empty() ? "" : " " + req.tvd);
    return factory.Handle(req);
  };
  while (!g_stop) {
    (*server)->ServeOne(handler, std::chrono::milliseconds(200));
    factory.Supervise();
  }
  tvd::log::Info("SIGTERM: stopping proxies (memberships stay)");
  factory.StopAll();
  return 0;
}
