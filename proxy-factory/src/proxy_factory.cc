#include "tvd/proxy_factory/proxy_factory.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "tvd/log.h"
#include "tvd/proxy_factory/joined_tvds.h"

namespace tvd::host {

namespace {
using Clock = std::chrono::steady_clock;
}

StatusOr<ChildProcess> ProcessProxyLauncher::Launch(
    const std::string& tvd, const std::string& socket_path,
    const std::string& log_path) {
  ProcessOptions opts;
  opts.argv = argv_prefix_;
  // The quota usage socket lies next to the control socket, in a folder of
  // its own so no TVD name can collide with it (usage_socket_path()).
  const std::string run_dir =
      socket_path.substr(0, socket_path.find_last_of('/'));
  if (::mkdir((run_dir + "/usage").c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("mkdir " + run_dir + "/usage", errno);
  }
  opts.argv.insert(opts.argv.end(),
                   {"--tvd", tvd, "--socket", socket_path, "--usage-socket",
                    UsageSocketPath(run_dir, tvd)});
  opts.stderr_path = log_path;
  opts.stdout_path = log_path;
  // A proxy is stopped by its factory; if the factory is killed the proxy
  // must not keep serving a TVD nobody supervises.
  opts.die_with_parent = true;
  return ChildProcess::Start(opts);
}

ProxyFactory::ProxyFactory(FactoryConfig config, ProxyLauncher& launcher)
    : config_(std::move(config)), launcher_(launcher) {}

ProxyFactory::~ProxyFactory() { StopAll(); }

void ProxyFactory::StopAll() {
  for (auto& [tvd, proxy] : proxies_) {
    auto s = proxy.process.Stop(std::chrono::seconds(5));
    if (s.ok()) {
      log::Info("stopped proxy of TVD '", tvd, "' (status ", *s, ")");
    }
    ::unlink(proxy.socket_path.c_str());
  }
  proxies_.clear();
}

pid_t ProxyFactory::ProxyPid(const std::string& tvd) const {
  auto it = proxies_.find(tvd);
  return it == proxies_.end() || it->second.dead ? -1
                                                 : it->second.process.pid();
}

int ProxyFactory::Restarts(const std::string& tvd) const {
  auto it = proxies_.find(tvd);
  return it == proxies_.end() ? 0 : it->second.restarts;
}

std::string ProxyFactory::LogTail(const std::string& path) const {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

StatusOr<ChildProcess> ProxyFactory::StartProxy(const std::string& tvd,
                                                Proxy& proxy) {
  ::unlink(proxy.socket_path.c_str());
  TVD_ASSIGN_OR_RETURN(
      ChildProcess child,
      launcher_.Launch(tvd, proxy.socket_path, proxy.log_path));
  // Ready = answers a status request on its socket.
  const auto deadline = Clock::now() + config_.start_timeout;
  while (Clock::now() < deadline) {
    if (!child.Running()) {
      std::string tail = LogTail(proxy.log_path);
      return FailedPrecondition(
          "the proxy of TVD '" + tvd + "' exited with status " +
          std::to_string(child.exit_status().value_or(-1)) + " while joining" +
          (tail.empty() ? "" : ": " + tail) + " (log: " + proxy.log_path + ")");
    }
    auto r = CallControl(proxy.socket_path,
                         ControlRequest{ControlOp::kStatus, tvd, "", ""},
                         std::chrono::seconds(2));
    if (r.ok() && r->status.ok()) return child;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (void)child.Stop(std::chrono::seconds(2));
  return Timeout("the proxy of TVD '" + tvd + "' did not become ready within " +
                 std::to_string(config_.start_timeout.count()) +
                 " ms (log: " + proxy.log_path + ")");
}

void ProxyFactory::SaveJoined() {
  std::vector<std::string> names;
  for (const auto& [tvd, proxy] : proxies_) names.push_back(tvd);
  Status s = SaveJoinedTvds(config_.run_dir + "/joined", names);
  if (!s.ok()) {
    log::Error("remembering the joined TVDs: ", s.ToString(),
               "; after a factory restart, join them again");
  }
}

ProxyFactory::Proxy ProxyFactory::NewProxy(const std::string& tvd) const {
  Proxy proxy;
  proxy.socket_path = config_.run_dir + "/" + tvd + ".sock";
  proxy.log_path = config_.run_dir + "/" + tvd + ".log";
  return proxy;
}

int ProxyFactory::RestoreJoined() {
  const std::string path = config_.run_dir + "/joined";
  auto joined = LoadJoinedTvds(path);
  if (!joined.ok()) {
    log::Error("cannot restore the joined TVDs: ", joined.status().ToString());
    return 0;
  }
  for (const std::string& problem : joined->problems) {
    log::Warning("skipping a line of the joined TVDs: ", problem);
  }
  int running = 0;
  for (const std::string& tvd : joined->names) {
    if (proxies_.contains(tvd)) continue;
    Proxy proxy = NewProxy(tvd);
    auto child = StartProxy(tvd, proxy);
    if (child.ok()) {
      proxy.process = std::move(child).value();
      ++running;
      log::Info("restored TVD '", tvd, "': proxy pid ", proxy.process.pid());
    } else {
      log::Error("restoring TVD '", tvd, "': ", child.status().ToString(),
                 "; retrying");
      proxy.dead = true;
      proxy.died_at = Clock::now();
    }
    proxies_.emplace(tvd, std::move(proxy));
  }
  if (!joined->problems.empty()) SaveJoined();
  return running;
}

Status ProxyFactory::Join(const std::string& tvd) {
  if (proxies_.contains(tvd)) {
    return AlreadyExists("this host is already a member of TVD '" + tvd +
                         "' (proxy pid " +
                         std::to_string(proxies_[tvd].process.pid()) +
                         "); leave it first to join again");
  }
  Proxy proxy = NewProxy(tvd);
  TVD_ASSIGN_OR_RETURN(proxy.process, StartProxy(tvd, proxy));
  log::Info("joined TVD '", tvd, "': proxy pid ", proxy.process.pid());
  proxies_.emplace(tvd, std::move(proxy));
  SaveJoined();
  return Status::Ok();
}

Status ProxyFactory::Leave(const std::string& tvd) {
  auto it = proxies_.find(tvd);
  if (it == proxies_.end()) {
    return NotFound("this host is not a member of TVD '" + tvd +
                    "' (see 'tvdctl status')");
  }
  if (it->second.dead) {
    return Unavailable("the proxy of TVD '" + tvd +
                       "' is restarting; retry in a moment");
  }
  auto r = CallControl(it->second.socket_path,
                       ControlRequest{ControlOp::kLeave, tvd, "", ""},
                       config_.call_timeout);
  Status result = r.ok() ? r->status : r.status();
  if (!result.ok() && result.code() != ErrorCode::kFailedPrecondition) {
    // The proxy stays so the leave can be retried.
    return result.WithContext("leaving TVD '" + tvd + "'");
  }
  auto exited = it->second.process.Wait(std::chrono::seconds(10));
  if (!exited.ok()) (void)it->second.process.Stop(std::chrono::seconds(2));
  ::unlink(it->second.socket_path.c_str());
  proxies_.erase(it);
  SaveJoined();
  log::Info("left TVD '", tvd, "'");
  return result;
}

ControlResponse ProxyFactory::Forward(const ControlRequest& request) {
  ControlResponse resp;
  auto it = proxies_.find(request.tvd);
  if (it == proxies_.end()) {
    resp.status = NotFound("this host is not a member of TVD '" + request.tvd +
                           "'; run 'tvdctl join " + request.tvd + "' first");
    return resp;
  }
  if (it->second.dead) {
    resp.status = Unavailable("the proxy of TVD '" + request.tvd +
                              "' is restarting; retry in a moment");
    return resp;
  }
  auto r = CallControl(it->second.socket_path, request, config_.call_timeout);
  if (!r.ok()) {
    resp.status = r.status().WithContext("proxy of TVD '" + request.tvd + "'");
    return resp;
  }
  return *r;
}

nlohmann::json ProxyFactory::StatusJson() {
  nlohmann::json tvds = nlohmann::json::array();
  for (auto& [tvd, proxy] : proxies_) {
    nlohmann::json j = {{"tvd", tvd},
                        {"pid", proxy.dead ? -1 : proxy.process.pid()},
                        {"restarts", proxy.restarts},
                        {"state", proxy.dead ? "restarting" : "running"}};
    if (!proxy.dead) {
      auto r = CallControl(proxy.socket_path,
                           ControlRequest{ControlOp::kStatus, tvd, "", ""},
                           std::chrono::seconds(5));
      if (r.ok() && r->status.ok()) {
        j["proxy"] = r->result;
      } else {
        j["proxy_error"] =
            r.ok() ? r->status.ToString() : r.status().ToString();
      }
    }
    tvds.push_back(j);
  }
  return {{"tvds", tvds}};
}

ControlResponse ProxyFactory::Handle(const ControlRequest& request) {
  ControlResponse resp;
  switch (request.op) {
    case ControlOp::kJoin:
      resp.status = Join(request.tvd);
      if (resp.status.ok()) {
        resp.result = {{"tvd", request.tvd},
                       {"pid", proxies_[request.tvd].process.pid()}};
      }
      return resp;
    case ControlOp::kLeave:
      resp.status = Leave(request.tvd);
      if (resp.status.ok()) resp.result = {{"tvd", request.tvd}};
      return resp;
    case ControlOp::kAttach:
    case ControlOp::kDetach:
      return Forward(request);
    case ControlOp::kStatus:
      if (!request.tvd.empty()) return Forward(request);
      resp.result = StatusJson();
      return resp;
    case ControlOp::kUsage:
      resp.status = InvalidArgument(
          "op 'usage' goes to the TVD's proxy (its usage socket), not to the "
          "factory");
      return resp;
  }
  resp.status = Internal("unhandled op");
  return resp;
}

int ProxyFactory::Supervise() {
  int restarted = 0;
  bool forgot = false;
  for (auto it = proxies_.begin(); it != proxies_.end();) {
    // A proxy that exits 0 has left its TVD on its own (evicted, or the TVD
    // was removed): restarting it would only be refused by the master.
    if (!it->second.dead && !it->second.process.Running() &&
        it->second.process.exit_status() == 0) {
      log::Warning("proxy of TVD '", it->first, "' (pid ",
                   it->second.process.pid(),
                   ") left the TVD on its own; forgetting it");
      ::unlink(it->second.socket_path.c_str());
      it = proxies_.erase(it);
      forgot = true;
    } else {
      ++it;
    }
  }
  if (forgot) SaveJoined();
  for (auto& [tvd, proxy] : proxies_) {
    if (!proxy.dead) {
      if (proxy.process.Running()) continue;
      proxy.dead = true;
      proxy.died_at = Clock::now();
      log::Warning("proxy of TVD '", tvd, "' (pid ", proxy.process.pid(),
                   ") exited with status ",
                   proxy.process.exit_status().value_or(-1), "; restarting");
    }
    if (Clock::now() - proxy.died_at < config_.restart_delay) continue;
    auto child = StartProxy(tvd, proxy);
    if (!child.ok()) {
      log::Error("restarting proxy of TVD '", tvd,
                 "': ", child.status().ToString());
      proxy.died_at = Clock::now();
      continue;
    }
    proxy.process = std::move(child).value();
    proxy.dead = false;
    ++proxy.restarts;
    ++restarted;
    log::Info("restarted proxy of TVD '", tvd, "': pid ", proxy.process.pid());
  }
  return restarted;
}

}  // namespace tvd::host
