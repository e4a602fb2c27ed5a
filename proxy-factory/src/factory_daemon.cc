#include "tvd/proxy_factory/factory_daemon.h"

#include <grp.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tvd/daemon/endpoint_list.h"
#include "tvd/host/control_socket.h"
#include "tvd/log.h"
#include "tvd/proxy_factory/proxy_factory.h"

namespace tvd::host {

namespace {

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

class FactoryDaemon : public daemon::Daemon {
 public:
  FactoryDaemon(std::unique_ptr<ControlServer> server,
                std::vector<std::string> proxy_argv, std::string run_dir)
      : server_(std::move(server)),
        launcher_(std::move(proxy_argv)),
        factory_({.run_dir = std::move(run_dir)}, launcher_) {}

  void Restore() { factory_.RestoreJoined(); }

  // One loop: wait for a request or a stop signal (at most 200 ms, the
  // supervision tick), serve the request, then supervise the proxies.
  Status Run(daemon::StopSignals& signals) override {
    auto handler = [this](const ControlRequest& req,
                          const PeerCredentials& peer) {
      log::Info("uid ", peer.uid, " pid ", peer.pid, ": ",
                ControlOpName(req.op), req.tvd.empty() ? "" : " " + req.tvd);
      return factory_.Handle(req);
    };
    for (;;) {
      pollfd fds[2] = {{server_->fd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
      ::poll(fds, 2, 200);
      if (std::optional<int> sig = signals.Poll()) {
        log::Info("signal ", *sig, ": stopping proxies (memberships stay)");
        return Status::Ok();
      }
      if (fds[0].revents != 0) {
        server_->ServeOne(handler, std::chrono::milliseconds(0));
      }
      factory_.Supervise();
    }
  }
  void Stop() override { factory_.StopAll(); }

 private:
  std::unique_ptr<ControlServer> server_;
  ProcessProxyLauncher launcher_;
  ProxyFactory factory_;
};

}  // namespace

std::string DefaultProxyBinary() {
  const std::string beside = SelfDir() + "/../tvd-proxy/tvd-proxy";
  if (::access(beside.c_str(), X_OK) == 0) return beside;
  return SelfDir() + "/tvd-proxy";
}

std::vector<std::string> ProxyArgvPrefix(const FactoryFlags& flags) {
  std::vector<std::string> argv = {flags.proxy.empty() ? DefaultProxyBinary()
                                                       : flags.proxy};
  argv.insert(argv.end(), flags.proxy_args.begin(), flags.proxy_args.end());
  if (!flags.state_dir.empty())
    argv.push_back("--state-dir=" + flags.state_dir);
  if (!flags.masters.empty()) {
    argv.push_back("--master=" + daemon::EndpointListToString(flags.masters));
  }
  return argv;
}

StatusOr<daemon::DaemonPtr> StartFactoryDaemon(const FactoryFlags& flags) {
  // A proxy would refuse a bad master list at every join; say it now.
  for (const std::string& arg : flags.proxy_args) {
    constexpr std::string_view kMaster = "--master=";
    if (!arg.starts_with(kMaster)) continue;
    if (!flags.masters.empty()) {
      return InvalidArgument(
          "--master is given both as --master and as --proxy-arg");
    }
    StatusOr<std::vector<daemon::Endpoint>> list =
        daemon::ParseEndpointList(std::string_view(arg).substr(kMaster.size()));
    if (!list.ok()) {
      return InvalidArgument("--proxy-arg=--master: " +
                             list.status().message());
    }
  }
  PeerPolicy peers;
  if (flags.group) peers.allowed_gid = *flags.group;
  if (::mkdir(flags.run_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create " + flags.run_dir, errno);
  }
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<ControlServer> server,
                       ControlServer::Listen(flags.socket, peers));
  auto d = std::make_unique<FactoryDaemon>(
      std::move(server), ProxyArgvPrefix(flags), flags.run_dir);
  log::Info("listening on ", flags.socket);
  // The TVDs joined before this factory stopped get their proxies back.
  d->Restore();
  return daemon::DaemonPtr(std::move(d));
}

daemon::DaemonSpec<FactoryFlags> FactoryDaemonSpec() {
  daemon::DaemonSpec<FactoryFlags> spec;
  spec.name = "proxy-factory";
  spec.summary =
      "The host daemon behind tvdctl's host commands: starts and supervises "
      "one tvd-proxy per joined TVD.";
  spec.declare = [](daemon::FlagSet& flags, FactoryFlags& f) {
    flags.Path("socket", &f.socket, "the control socket").Default(f.socket);
    flags.Path("run-dir", &f.run_dir, "the proxies' sockets and logs")
        .Default(f.run_dir);
    flags.Custom(
        "group", "NAME",
        [&f](std::string_view name) -> Status {
          struct group* g = ::getgrnam(std::string(name).c_str());
          if (g == nullptr) {
            return InvalidArgument("no group '" + std::string(name) + "'");
          }
          f.group = g->gr_gid;
          return Status::Ok();
        },
        "a group allowed on the control socket besides root");
    flags.Path("proxy", &f.proxy, "the tvd-proxy binary")
        .Default("tvd-proxy beside this binary");
    flags.Repeated("proxy-arg", &f.proxy_args,
                   "an extra argument for every proxy, e.g. "
                   "--proxy-arg=--libvirt-uri=qemu:///system");
    flags
        .Path("state-dir", &f.state_dir,
              "root-owned directory where each proxy records the VMs it "
              "admitted")
        .Default("the proxy's, /var/lib/tvd/proxy");
    flags.Custom(
        "master", "ADDRESS:PORT[,...]",
        [&f](std::string_view v) -> Status {
          TVD_ASSIGN_OR_RETURN(f.masters, daemon::ParseEndpointList(v));
          return Status::Ok();
        },
        "the master, or its replicas in the order to try them (at most 16); "
        "passed on to every proxy as --master");
  };
  spec.start = [](FactoryFlags& f) { return StartFactoryDaemon(f); };
  return spec;
}

}  // namespace tvd::host
