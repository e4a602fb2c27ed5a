#include "tvd/tvdctl/master_command.h"

#include <cstdlib>

#include "tvd/channel/tls_context.h"
#include "tvd/file_util.h"
#include "tvd/pki/identity.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/protocol/messages.h"
#include "tvd/text_table.h"
#include "tvd/tvdctl/dispatcher.h"
#include "tvd/tvdctl/host_command.h"

namespace tvd::tvdctl {
namespace {

using json = nlohmann::json;

void PrintHelp(std::ostream& out) {
  out << "usage: tvdctl master status [--master ADDRESS:PORT[,...]]... "
         "[--json]\n\n"
         "Each master replica's view (needs an admin certificate): up or "
         "down,\nwhether it holds the singleton lock, its connected member "
         "channels,\nthe store kind and, on OVSDB, the role and commit index "
         "of its\nstore server. A replica that does not answer is a line "
         "saying why.\n\n"
         "Options:\n"
         "  --master ADDRESS:PORT  a replica; repeat or separate with ',' "
         "($TVD_MASTER:\n"
         "                         one)\n"
         "  --master-name NAME     CN of the masters' certificate (default "
         "tvd-master)\n"
         "  --ca PEM, --cert PEM, --key PEM, --config FILE   as 'tvdctl "
         "tvd'\n"
         "  --json                 print every replica's answer as JSON\n\n"
         "Exit status: 0 at least one replica answered, 1 failure, 2 usage "
         "error,\n3 no replica answered.\n";
}

// A JSON member as a cell: strings as they are, numbers and booleans
// printed, anything else "-".
std::string Cell(const json& j, const char* key) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  if (it->is_number_unsigned()) {
    return std::to_string(it->get<std::uint64_t>());
  }
  return "-";
}

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Role(const json& server) {
  if (!server.is_object()) return "-";
  std::string model = Cell(server, "model");
  if (model != "clustered") return model;
  const json& leader = Member(server, "leader");
  if (!leader.is_boolean()) return "-";
  std::string role = leader.get<bool>() ? "leader" : "follower";
  const json& connected = Member(server, "connected");
  if (connected.is_boolean() && !connected.get<bool>()) {
    role += " (disconnected)";
  }
  return role;
}

// "connection refused" / "timeout" / the message, for a replica that did
// not answer.
std::string WhyDown(const Status& s) {
  const std::string& m = s.message();
  if (m.find("Connection refused") != std::string::npos) {
    return "connection refused";
  }
  if (s.code() == ErrorCode::kTimeout ||
      m.find("timed out") != std::string::npos) {
    return "timeout";
  }
  return s.ToString();
}

}  // namespace

StatusOr<MasterStatusInvocation> ParseMasterArgs(
    const std::vector<std::string>& args) {
  MasterStatusInvocation inv;
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> operands,
                       ParseConnectionArgs(args, inv.connection));
  inv.help = inv.connection.help;
  inv.json = inv.connection.json;
  if (inv.help) return inv;
  if (!inv.connection.connection.master.empty()) {
    TVD_ASSIGN_OR_RETURN(std::vector<daemon::Endpoint> list,
                         MasterList(inv.connection.connection));
    for (const daemon::Endpoint& e : list) inv.masters.push_back(e.ToString());
  }
  if (operands.empty()) return InvalidArgument("missing COMMAND (status)");
  if (operands[0] != "status") {
    return InvalidArgument("unknown command '" + operands[0] + "' (status)");
  }
  if (operands.size() > 1) {
    return InvalidArgument("unexpected argument '" + operands[1] + "'");
  }
  return inv;
}

json MasterStatusJson(const std::vector<ReplicaAnswer>& answers) {
  json all = json::array();
  for (const ReplicaAnswer& a : answers) {
    if (a.status.ok()) {
      all.push_back(
          {{"address", a.address}, {"up", true}, {"status", *a.status}});
    } else {
      all.push_back({{"address", a.address},
                     {"up", false},
                     {"error", WhyDown(a.status.status())}});
    }
  }
  return {{"masters", all}};
}

void RenderMasterStatus(const std::vector<ReplicaAnswer>& answers,
                        std::ostream& out) {
  std::vector<TableRow> rows;
  for (const ReplicaAnswer& a : answers) {
    if (!a.status.ok()) {
      rows.push_back({a.address, "down", "-", "-", "-", "-", "-",
                      WhyDown(a.status.status())});
      continue;
    }
    const json& s = *a.status;
    const json& duties = Member(s, "duties");
    std::string lock = "-";
    if (duties.is_object()) lock = Cell(duties, "held");
    std::string channels =
        Cell(s, "connected_members") + "/" + Cell(s, "members");
    const json& server = Member(s, "store_server");
    const json& kind = Member(s, "store");
    std::string store = kind.is_string() ? kind.get<std::string>() : "-";
    rows.push_back({a.address, "up", lock, channels, store,
                    store == "ovsdb" ? Role(server) : "-",
                    store == "ovsdb" ? Cell(server, "index") : "-"});
  }
  PrintTable(
      out,
      {"MASTER", "STATE", "LOCK", "CHANNELS", "STORE", "ROLE", "INDEX", "NOTE"},
      rows);
}

int RunMasterCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  auto parsed = ParseMasterArgs(args);
  if (!parsed.ok()) {
    err << "tvdctl master: " << parsed.status().message()
        << " (see 'tvdctl master --help')\n";
    return kExitUsage;
  }
  MasterStatusInvocation inv = std::move(parsed).value();
  if (inv.help) {
    PrintHelp(out);
    return kExitOk;
  }
  TvdInvocation& conn = inv.connection;
  Status resolved = ResolveConnection(conn, [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!resolved.ok()) {
    err << "tvdctl master: " << resolved.message() << "\n";
    return kExitUsage;
  }
  if (inv.masters.empty()) {
    // The configured master list (TVD_MASTER, the config file): every
    // replica in it. ResolveConnection checked it.
    auto list = MasterList(conn.connection);
    if (!list.ok()) {
      err << "tvdctl master: " << list.status().message() << "\n";
      return kExitUsage;
    }
    for (const daemon::Endpoint& e : *list) inv.masters.push_back(e.ToString());
  }
  const MasterConnection& c = conn.connection;
  channel::TlsCredentials creds;
  Status loaded = [&]() -> Status {
    TVD_ASSIGN_OR_RETURN(creds.ca_cert_pem, ReadFileCapped(c.ca, 64 * 1024));
    TVD_ASSIGN_OR_RETURN(creds.cert_pem, ReadFileCapped(c.cert, 64 * 1024));
    TVD_ASSIGN_OR_RETURN(std::string key, ReadFileCapped(c.key, 64 * 1024));
    creds.key_pem = SecureBytes(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
    std::fill(key.begin(), key.end(), '\0');
    return Status::Ok();
  }();
  if (!loaded.ok()) {
    err << "tvdctl master: " << loaded.message()
        << "\n  check --ca/--cert/--key (or TVD_ADMIN_CA/CERT/KEY)\n";
    return kExitFailure;
  }
  auto tls = channel::TlsContext::Create(channel::TlsSide::kClient, creds);
  creds.key_pem.Clear();
  if (!tls.ok()) {
    err << "tvdctl master: admin credentials: " << tls.status().message()
        << "\n";
    return kExitFailure;
  }
  std::vector<ReplicaAnswer> answers;
  bool any_up = false;
  for (const std::string& m : inv.masters) {
    ReplicaAnswer a{m, Unavailable("not asked")};
    auto endpoint = SplitHostPort(m);
    if (!endpoint.ok()) {
      a.status = endpoint.status();
      answers.push_back(std::move(a));
      continue;
    }
    auto [address, port] = *endpoint;
    // A replica that hangs must not hold up the others for long.
    protocol::AdminClient admin(
        {address, port, {pki::Role::kHost, c.master_name}}, **tls,
        std::chrono::seconds(5));
    StatusOr<std::string> reply =
        admin.Query({protocol::AdminQueryKind::kMaster, ""});
    if (reply.ok()) {
      json j = json::parse(*reply, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        a.status = ProtocolError("the answer is not a JSON object");
      } else {
        a.status = std::move(j);
        any_up = true;
      }
    } else {
      a.status = reply.status();
    }
    answers.push_back(std::move(a));
  }
  if (inv.json) {
    out << MasterStatusJson(answers).dump(2) << "\n";
  } else {
    RenderMasterStatus(answers, out);
  }
  return any_up ? kExitOk : kExitUnreachable;
}

}  // namespace tvd::tvdctl
