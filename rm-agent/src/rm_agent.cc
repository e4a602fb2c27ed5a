#include "tvd/rm/rm_agent.h"

#include <algorithm>

#include "tvd/log.h"
#include "tvd/rm/rm_server.h"

namespace tvd::rm {

RmAgent::RmAgent(RmAgentConfig config, DomainSource& domains,
                 NodeStatusSource& node)
    : config_(std::move(config)),
      domains_(domains),
      node_(node),
      context_(1),
      socket_(context_, zmq::socket_type::dealer) {}

StatusOr<std::unique_ptr<RmAgent>> RmAgent::Create(RmAgentConfig config,
                                                   DomainSource& domains,
                                                   NodeStatusSource& node) {
  if (config.host.empty()) return InvalidArgument("rm-agent: empty host name");
  std::unique_ptr<RmAgent> agent(new RmAgent(std::move(config), domains, node));
  try {
    TVD_RETURN_IF_ERROR(ConfigureCurveClient(agent->socket_,
                                             agent->config_.agent_keys,
                                             agent->config_.server_public_z85));
    agent->socket_.set(zmq::sockopt::linger, 1000);
    // Old reports are worthless once newer ones exist: keep the queue short
    // while the server is away.
    agent->socket_.set(zmq::sockopt::sndhwm, 100);
    agent->socket_.set(zmq::sockopt::immediate, 1);
    agent->socket_.connect(agent->config_.server_endpoint);
  } catch (const zmq::error_t& e) {
    return InvalidArgument("rm-agent: connect '" +
                           agent->config_.server_endpoint + "': " + e.what());
  }
  return agent;
}

void RmAgent::Send(const AgentMessage& message) {
  const std::string bytes = EncodeAgentMessage(message);
  try {
    // Never block: when the server is unreachable the message is dropped and
    // the next report or heartbeat carries the news.
    if (socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
      last_sent_ = std::chrono::steady_clock::now();
    }
  } catch (const zmq::error_t& e) {
    log::Warning("send to ", config_.server_endpoint, ": ", e.what());
  }
}

void RmAgent::Report(bool force_domains) {
  StatusOr<NodeStatus> status = node_.ReadStatus();
  StatusOr<std::vector<LocalDomain>> domains = domains_.ListDomains();
  if (!domains.ok()) {
    log::Warning(domains.status().message());
  }
  if (status.ok()) {
    NodeStatus s = *status;
    if (domains.ok()) {
      std::uint64_t used = 0;
      for (const LocalDomain& d : *domains) {
        if (d.info.state == "running" || d.info.state == "blocked" ||
            d.info.state == "paused") {
          used += d.vcpus;
        }
      }
      s.free_vcpus = s.cpus > used ? s.cpus - used : 0;
    }
    Send(StatusMsg{s});
  } else {
    log::Warning(status.status().message());
  }
  if (domains.ok()) {
    std::vector<DomainInfo> infos;
    for (const LocalDomain& d : *domains) infos.push_back(d.info);
    std::sort(infos.begin(), infos.end(),
              [](const DomainInfo& a, const DomainInfo& b) {
                return a.name < b.name;
              });
    if (infos.size() > kMaxDomains) infos.resize(kMaxDomains);
    if (force_domains || ++reports_since_full_ >= config_.full_report_every ||
        !last_domains_ || *last_domains_ != infos) {
      reports_since_full_ = 0;
      Send(DomainsMsg{infos});
      last_domains_ = std::move(infos);
    }
  }
  reports_sent_.fetch_add(1, std::memory_order_relaxed);
}

Status RmAgent::Run() {
  using std::chrono::steady_clock;
  log::Info("reporting host '", config_.host, "' to ", config_.server_endpoint);
  Send(RegisterMsg{config_.host, config_.properties});
  Report(/*force_domains=*/true);
  auto next_report = steady_clock::now() + config_.report_interval;
  const auto tick = std::min<std::chrono::milliseconds>(
      {config_.report_interval, config_.heartbeat_interval,
       std::chrono::milliseconds(200)});
  while (!stop_.load(std::memory_order_relaxed)) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, tick);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        return IoError(std::string("rm-agent: poll: ") + e.what());
      }
    }
    bool reregister = false;
    while (true) {
      zmq::message_t m;
      if (!socket_.recv(m, zmq::recv_flags::dontwait)) break;
      if (IsReregisterNotice(m.to_string_view())) reregister = true;
    }
    const auto now = steady_clock::now();
    if (reregister) {
      log::Info("server asked to register again");
      Send(RegisterMsg{config_.host, config_.properties});
      Report(/*force_domains=*/true);
      next_report = now + config_.report_interval;
    } else if (now >= next_report) {
      Report(/*force_domains=*/false);
      next_report = now + config_.report_interval;
    } else if (now - last_sent_ >= config_.heartbeat_interval) {
      Send(HeartbeatMsg{});
    }
  }
  Send(UnregisterMsg{});
  log::Info("unregistered, stopping");
  socket_.close();  // lingers up to 1 s so the unregister leaves
  return Status::Ok();
}

}  // namespace tvd::rm
