#include "tvd/tvdctl/vdc_command.h"

#include <charconv>
#include <cstdlib>

#include "tvd/overview/render.h"
#include "tvd/overview/sources.h"
#include "tvd/protocol/failover_admin_client.h"
#include "tvd/rm/curve_keys.h"
#include "tvd/tvdctl/dispatcher.h"
#include "tvd/tvdctl/host_command.h"
#include "tvd/tvdctl/tvd_command.h"

namespace tvd::tvdctl {

namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: tvdctl vdc overview [--json] [OPTIONS]\n\n"
         "The datacenter overview: TVDs, the hosts each spans (attestation),\n"
         "VMs per TVD and host, free resources per host. Needs an admin\n"
         "certificate for the master and an admin key for rm-server.\n\n"
         "Options:\n"
         "  --master ADDRESS:PORT[,ADDRESS:PORT...]\n"
         "                         the master or its replicas, asked in "
         "order ($TVD_MASTER)\n"
         "  --master-name NAME     CN of the master's certificate "
         "($TVD_MASTER_NAME,\n"
         "                         default tvd-master)\n"
         "  --ca PEM               the VDC CA certificate ($TVD_ADMIN_CA)\n"
         "  --cert PEM             admin certificate ($TVD_ADMIN_CERT)\n"
         "  --key PEM              its private key ($TVD_ADMIN_KEY)\n"
         "  --config FILE          master settings as for 'tvdctl tvd'\n"
         "  --rm-server ENDPOINT   rm-server's query endpoint "
         "($TVD_RM_SERVER)\n"
         "  --rm-server-key FILE   rm-server's public key "
         "($TVD_RM_SERVER_KEY)\n"
         "  --rm-key PREFIX        the admin CURVE key pair ($TVD_RM_KEY)\n"
         "  --timeout-ms N         per query, default 5000\n"
         "  --json                 the JSON document of docs/overview.md\n\n"
         "Exit status: 0 ok, 1 a source refused or failed, 2 usage error, 3 "
         "a source\nis unreachable (what the other source knows is still "
         "printed).\n";
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// The master's admin queries at the first replica that accepts the
// connection (protocol/failover_admin_client.h).
class FailoverMasterSource : public overview::MasterSource {
 public:
  FailoverMasterSource(std::vector<daemon::Endpoint> masters,
                       std::string master_name,
                       std::unique_ptr<channel::TlsContext> tls,
                       std::chrono::milliseconds timeout)
      : tls_(std::move(tls)),
        client_(std::move(masters), std::move(master_name), *tls_, timeout) {}
  StatusOr<nlohmann::json> QueryTvds() override {
    return Query(protocol::AdminQueryKind::kTvds);
  }
  StatusOr<nlohmann::json> QueryHosts() override {
    return Query(protocol::AdminQueryKind::kHosts);
  }
  std::string Describe() const override { return client_.Describe(); }

 private:
  StatusOr<nlohmann::json> Query(protocol::AdminQueryKind kind) {
    TVD_ASSIGN_OR_RETURN(std::string reply, client_.Query({kind, ""}));
    nlohmann::json j =
        nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
      return ProtocolError("the master's reply is not JSON");
    return j;
  }

  std::unique_ptr<channel::TlsContext> tls_;
  protocol::FailoverAdminClient client_;
};

bool Unreachable(const overview::SourceState& s) {
  return !s.ok &&
         (s.code == ErrorCode::kUnavailable || s.code == ErrorCode::kTimeout);
}

}  // namespace

int OverviewExitCode(const overview::Overview& o) {
  if (Unreachable(o.master) || Unreachable(o.rm)) return kExitUnreachable;
  if (!o.master.ok || !o.rm.ok) return kExitFailure;
  return kExitOk;
}

int RunVdcCommand(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  std::string rm_server = Env("TVD_RM_SERVER");
  std::string rm_server_key = Env("TVD_RM_SERVER_KEY");
  std::string rm_key = Env("TVD_RM_KEY");
  long timeout_ms = 5000;
  bool as_json = false;
  bool have_verb = false;
  // Master options go on to the `tvdctl tvd` parser, so both commands take
  // exactly the same ones.
  std::vector<std::string> master_args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      PrintUsage(out);
      return kExitOk;
    }
    if (a == "--json") {
      as_json = true;
      continue;
    }
    if (a == "overview" && !have_verb) {
      have_verb = true;
      continue;
    }
    std::string* target = nullptr;
    if (a == "--rm-server") target = &rm_server;
    if (a == "--rm-server-key") target = &rm_server_key;
    if (a == "--rm-key") target = &rm_key;
    if (target != nullptr || a == "--timeout-ms") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        err << "tvdctl vdc: " << a << " needs a value\n";
        return kExitUsage;
      }
      const std::string& v = args[++i];
      if (target != nullptr) {
        *target = v;
        continue;
      }
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), timeout_ms);
      if (ec != std::errc() || p != v.data() + v.size() || timeout_ms <= 0) {
        err << "tvdctl vdc: --timeout-ms: expected a positive integer\n";
        return kExitUsage;
      }
      continue;
    }
    master_args.push_back(a);
  }
  if (!have_verb) {
    err << "tvdctl vdc: missing COMMAND (overview) (see 'tvdctl vdc "
           "--help')\n";
    return kExitUsage;
  }
  master_args.push_back("list");
  auto parsed = ParseTvdArgs(master_args);
  if (!parsed.ok()) {
    err << "tvdctl vdc: " << parsed.status().message()
        << " (see 'tvdctl vdc --help')\n";
    return kExitUsage;
  }
  TvdInvocation inv = std::move(parsed).value();
  Status resolved = ResolveConnection(inv, [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!resolved.ok()) {
    err << "tvdctl vdc: " << resolved.message() << "\n";
    return resolved.code() == ErrorCode::kInvalidArgument ? kExitUsage
                                                          : kExitFailure;
  }
  if (rm_server.empty() || rm_server_key.empty() || rm_key.empty()) {
    err << "tvdctl vdc: --rm-server, --rm-server-key and --rm-key (or "
           "TVD_RM_SERVER, TVD_RM_SERVER_KEY, TVD_RM_KEY) are required\n";
    return kExitUsage;
  }

  const MasterConnection& c = inv.connection;
  auto tls = overview::LoadAdminTls(c.ca, c.cert, c.key);
  if (!tls.ok()) {
    err << "tvdctl vdc: admin credentials: " << tls.status().ToString()
        << "\n  check --ca/--cert/--key (or TVD_ADMIN_CA/CERT/KEY)\n";
    return kExitFailure;
  }
  auto server_public = rm::LoadPublicKeyFile(rm_server_key);
  if (!server_public.ok()) {
    err << "tvdctl vdc: " << server_public.status().ToString() << "\n";
    return kExitFailure;
  }
  auto keys = rm::LoadKeyPair(rm_key);
  if (!keys.ok()) {
    err << "tvdctl vdc: " << keys.status().ToString() << "\n";
    return kExitFailure;
  }
  const std::chrono::milliseconds timeout(timeout_ms);
  // ResolveConnection checked the list.
  FailoverMasterSource master(*MasterList(c), c.master_name,
                              std::move(tls).value(), timeout);
  overview::RmSnapshotSource rm(rm_server, *server_public,
                                std::move(keys).value(), timeout);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  overview::Overview o = overview::CollectOverview(master, rm, now);
  if (as_json) {
    out << overview::RenderJson(o).dump(2) << "\n";
  } else {
    overview::RenderText(o, out);
  }
  for (const overview::SourceState* s : {&o.master, &o.rm}) {
    if (!s->ok) err << "tvdctl vdc: " << s->error << "\n";
  }
  return OverviewExitCode(o);
}

}  // namespace tvd::tvdctl
