#include "tvd/rm/rm_daemons.h"

#include <iostream>

#include "tvd/log.h"
#include "tvd/rm/rm_agent.h"
#include "tvd/rm/rm_server.h"

namespace tvd::rm {

namespace {

using std::chrono::milliseconds;

// Both daemons serve in a blocking Run() that RequestStop ends.
class ServerDaemon : public daemon::Daemon {
 public:
  explicit ServerDaemon(std::unique_ptr<RmServer> server)
      : server_(std::move(server)) {}
  // --endpoints-file: the two endpoints it bound, one a line.
  std::string AddressFileText() const override {
    return server_->agent_endpoint() + "\n" + server_->query_endpoint() + "\n";
  }
  Status Run(daemon::StopSignals& signals) override {
    return daemon::RunUntilStopSignal(
        signals, [this] { return server_->Run(); },
        [this] { server_->RequestStop(); });
  }

 private:
  std::unique_ptr<RmServer> server_;
};

// Owns the agent's sources; the agent (declared last) goes first.
class AgentDaemon : public daemon::Daemon {
 public:
  AgentDaemon(std::unique_ptr<DomainSource> domains,
              std::unique_ptr<ProcNodeStatusSource> node)
      : domains_(std::move(domains)), node_(std::move(node)) {}
  Status Start(RmAgentConfig config) {
    TVD_ASSIGN_OR_RETURN(agent_,
                         RmAgent::Create(std::move(config), *domains_, *node_));
    return Status::Ok();
  }
  Status Run(daemon::StopSignals& signals) override {
    return daemon::RunUntilStopSignal(
        signals, [this] { return agent_->Run(); },
        [this] { agent_->RequestStop(); });
  }

 private:
  std::unique_ptr<DomainSource> domains_;
  std::unique_ptr<ProcNodeStatusSource> node_;
  std::unique_ptr<RmAgent> agent_;
};

const milliseconds kOneMs(1);
const milliseconds kOneDay(86400000);

}  // namespace

StatusOr<daemon::DaemonPtr> StartRmServer(const RmServerFlags& flags) {
  RmServerConfig config;
  config.agent_endpoint = flags.agent_endpoint;
  config.query_endpoint = flags.query_endpoint;
  config.liveness.heartbeat_interval = flags.heartbeat;
  config.liveness.missed_heartbeats = flags.missed;
  config.liveness.expiry = flags.expiry;
  config.tick = std::min<milliseconds>(milliseconds(100), flags.heartbeat);
  TVD_ASSIGN_OR_RETURN(config.server_keys, LoadKeyPair(flags.key));
  TVD_ASSIGN_OR_RETURN(config.agents, LoadAllowList(flags.agents));
  TVD_ASSIGN_OR_RETURN(config.admins, LoadAllowList(flags.admins));
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<RmServer> server,
                       RmServer::Create(std::move(config)));
  return daemon::DaemonPtr(std::make_unique<ServerDaemon>(std::move(server)));
}

StatusOr<daemon::DaemonPtr> StartRmAgent(const RmAgentFlags& flags) {
  RmAgentConfig config;
  config.server_endpoint = flags.server;
  config.host = flags.host;
  config.report_interval = flags.report;
  config.heartbeat_interval = flags.heartbeat;
  config.properties = flags.properties;
  TVD_ASSIGN_OR_RETURN(config.server_public_z85,
                       LoadPublicKeyFile(flags.server_key));
  TVD_ASSIGN_OR_RETURN(config.agent_keys, LoadKeyPair(flags.key));
  auto d =
      std::make_unique<AgentDaemon>(MakeLibvirtDomainSource(flags.libvirt_uri),
                                    std::make_unique<ProcNodeStatusSource>());
  TVD_RETURN_IF_ERROR(d->Start(std::move(config)));
  return daemon::DaemonPtr(std::move(d));
}

daemon::DaemonSpec<RmServerFlags> RmServerDaemonSpec() {
  daemon::DaemonSpec<RmServerFlags> spec;
  spec.name = "rm-server";
  spec.summary =
      "Registers rm-agents and answers admins' resource queries "
      "(rm-server keygen PREFIX makes a key pair).";
  // RunDaemon writes --endpoints-file (ServerDaemon::AddressFileText).
  spec.listens = true;
  spec.address_file_flag = "endpoints-file";
  spec.address_file_help =
      "after binding, write the two bound endpoints here (atomically)";
  spec.declare = [](daemon::FlagSet& flags, RmServerFlags& f) {
    flags
        .String("agent-endpoint", &f.agent_endpoint,
                "ZeroMQ endpoint agents connect to")
        .Required();
    flags
        .String("query-endpoint", &f.query_endpoint,
                "ZeroMQ endpoint admins query")
        .Required();
    flags.Path("key", &f.key, "the server's key pair (PREFIX)").Required();
    flags.Path("agents", &f.agents, "allow-list of agent keys").Required();
    flags.Path("admins", &f.admins, "allow-list of admin keys").Required();
    flags
        .Duration("heartbeat-ms", &f.heartbeat,
                  daemon::DurationUnit::kMilliseconds, kOneMs, kOneDay,
                  "the agents' heartbeat interval")
        .Default("1000");
    flags
        .Integer("missed", &f.missed, 1, 1000,
                 "heartbeats missed before an agent is down")
        .Default("3");
    flags
        .Duration("expiry-ms", &f.expiry, daemon::DurationUnit::kMilliseconds,
                  kOneMs, kOneDay, "silence after which an agent is removed")
        .Default("30000");
  };
  spec.start = [](RmServerFlags& f) { return StartRmServer(f); };
  return spec;
}

daemon::DaemonSpec<RmAgentFlags> RmAgentDaemonSpec() {
  daemon::DaemonSpec<RmAgentFlags> spec;
  spec.name = "rm-agent";
  spec.summary =
      "Reports this host's node status and domains to rm-server "
      "(rm-agent keygen PREFIX makes a key pair).";
  spec.declare = [](daemon::FlagSet& flags, RmAgentFlags& f) {
    flags.String("server", &f.server, "rm-server's agent endpoint").Required();
    flags.Path("server-key", &f.server_key, "rm-server's public key file")
        .Required();
    flags.Path("key", &f.key, "this agent's key pair (PREFIX)").Required();
    flags.String("host", &f.host, "this host's name in the allow-list")
        .Required();
    flags.String("libvirt-uri", &f.libvirt_uri, "the libvirt to report")
        .Required();
    flags
        .Duration("report-ms", &f.report, daemon::DurationUnit::kMilliseconds,
                  kOneMs, kOneDay, "how often to report")
        .Default("2000");
    flags
        .Duration("heartbeat-ms", &f.heartbeat,
                  daemon::DurationUnit::kMilliseconds, kOneMs, kOneDay,
                  "how often to send a heartbeat")
        .Default("1000");
    flags
        .Custom(
            "property", "KEY=VALUE",
            [&f](std::string_view p) -> Status {
              const std::size_t eq = p.find('=');
              if (eq == std::string_view::npos || eq == 0) {
                return InvalidArgument("expected KEY=VALUE, got '" +
                                       std::string(p) + "'");
              }
              f.properties[std::string(p.substr(0, eq))] =
                  std::string(p.substr(eq + 1));
              return Status::Ok();
            },
            "a property reported with the host")
        .Repeatable();
  };
  spec.start = [](RmAgentFlags& f) { return StartRmAgent(f); };
  return spec;
}

int RunKeygen(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    std::cerr << "usage: keygen PREFIX (writes PREFIX.pub, PREFIX.secret)\n";
    return 2;
  }
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  if (!pair.ok()) {
    std::cerr << pair.status().ToString() << "\n";
    return 1;
  }
  if (Status s = WriteKeyPairFiles(args[1], *pair); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  std::cout << pair->public_z85 << "\n";
  return 0;
}

int RunRmServerMain(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "keygen") return RunKeygen(args);
  return daemon::RunDaemon(RmServerDaemonSpec(), args);
}

int RunRmAgentMain(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "keygen") return RunKeygen(args);
  return daemon::RunDaemon(RmAgentDaemonSpec(), args);
}

}  // namespace tvd::rm
