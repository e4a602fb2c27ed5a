#include "tvd/tvdctl/tvd_command.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "tvd/channel/tls_context.h"
#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/endpoint_list.h"
#include "tvd/file_util.h"
#include "tvd/pki/identity.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/protocol/failover_admin_client.h"
#include "tvd/protocol/messages.h"
#include "tvd/text.h"
#include "tvd/text_table.h"
#include "tvd/tvdctl/dispatcher.h"
#include "tvd/tvdctl/host_command.h"

namespace tvd::tvdctl {

namespace {

using nlohmann::json;

void PrintUsage(std::ostream& out) {
  out << "usage: tvdctl tvd COMMAND [ARGS...] [OPTIONS]\n\n"
         "Admin view of the TVD master (needs an admin certificate):\n"
         "  list               TVDs, the hosts each spans with their "
         "attestation\n"
         "                     state, VM counts\n"
         "  show TVD           one TVD: hosts (attestation state and time, "
         "key\n"
         "                     epoch), networks, VMs per host\n"
         "  add FILE           add the TVD of policy FILE (checked locally "
         "first)\n"
         "  update FILE        replace the policy of an existing TVD; members "
         "get it\n"
         "  remove TVD         remove a TVD; its members are told to leave\n\n"
         "Options:\n"
         "  --master ADDRESS:PORT[,ADDRESS:PORT...]\n"
         "                         the master, or its replicas: a request\n"
         "                         goes to the first that accepts the\n"
         "                         connection ($TVD_MASTER)\n"
         "  --master-name NAME     CN of the master's certificate "
         "($TVD_MASTER_NAME,\n"
         "                         default tvd-master)\n"
         "  --ca PEM               the VDC CA certificate ($TVD_ADMIN_CA)\n"
         "  --cert PEM             admin certificate ($TVD_ADMIN_CERT)\n"
         "  --key PEM              its private key ($TVD_ADMIN_KEY)\n"
         "  --config FILE          'key = value' defaults: master, "
         "master_name, ca,\n"
         "                         cert, key ($TVDCTL_ADMIN_CONFIG, else "
      << kDefaultAdminConfig
      << "\n"
         "                         if present)\n"
         "  --json                 print the master's answer as JSON\n\n"
         "Exit status: 0 ok, 1 refused or failed, 2 usage error, 3 master "
         "unreachable.\n";
}

std::string Cell(const json& j, const char* key) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    return s.empty() ? "-" : s;
  }
  return it->dump();
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

bool Flag(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// "ok", "FAILED: reason" or "never" for a member's attestation state.
std::string AttestationCell(const json& member) {
  if (Flag(member, "attested")) return "ok";
  std::string reason = Cell(member, "attestation_reason");
  return reason == "-" ? "FAILED" : "FAILED: " + reason;
}

std::string TimeCell(const json& member) {
  if (!member.is_object()) return "-";
  auto it = member.find("attested_at");
  if (it == member.end() || !it->is_number_integer()) return "-";
  auto seconds = it->get<std::int64_t>();
  if (seconds <= 0) return "never";
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return "-";
  char buf[32];
  if (strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) return "-";
  return buf;
}

struct Option {
  const char* flag;
  std::string MasterConnection::*field;
};
constexpr Option kConnectionOptions[] = {
    {"--master", &MasterConnection::master},
    {"--master-name", &MasterConnection::master_name},
    {"--ca", &MasterConnection::ca},
    {"--cert", &MasterConnection::cert},
    {"--key", &MasterConnection::key},
};

struct Setting {
  const char* config_key;
  const char* env;
  std::string MasterConnection::*field;
};
constexpr Setting kSettings[] = {
    {"master", "TVD_MASTER", &MasterConnection::master},
    {"master_name", "TVD_MASTER_NAME", &MasterConnection::master_name},
    {"ca", "TVD_ADMIN_CA", &MasterConnection::ca},
    {"cert", "TVD_ADMIN_CERT", &MasterConnection::cert},
    {"key", "TVD_ADMIN_KEY", &MasterConnection::key},
};

Status ApplyConfigFile(const std::string& path, MasterConnection& c) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, 64 * 1024));
  return ApplyAdminConfig(text, path, c);
}

StatusOr<SecureBytes> ReadKey(const std::string& path) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, 64 * 1024));
  SecureBytes key{std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(text.data()), text.size())};
  std::fill(text.begin(), text.end(), '\0');
  return key;
}

// The hint printed under an error from the master, by its code.
std::string Hint(ErrorCode code) {
  switch (code) {
    case ErrorCode::kPermissionDenied:
      return "the master wants an admin certificate (OU=admin, from "
             "'tvdctl pki issue'); pass it with --cert/--key";
    case ErrorCode::kUnauthenticated:
      return "TLS failed: check that --ca is the VDC CA, --cert/--key an "
             "admin pair of it, and --master-name the CN of the master's "
             "certificate";
    case ErrorCode::kNotFound:
      return "see 'tvdctl tvd list' for the TVDs the master has";
    case ErrorCode::kAlreadyExists:
      return "use 'tvdctl tvd update FILE' to change an existing TVD";
    case ErrorCode::kFailedPrecondition:
      return "this TVD is managed through the master's policy directory";
    case ErrorCode::kInvalidArgument:
      return "fix the policy named above and retry";
    default:
      return "";
  }
}

}  // namespace

Status ApplyAdminConfig(std::string_view text, const std::string& path,
                        MasterConnection& c) {
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  std::map<std::string, bool> seen;
  while (std::getline(in, line)) {
    ++number;
    std::string where = path + ":" + std::to_string(number) + ": ";
    std::string trimmed = std::string(TrimWhitespace(line));
    if (trimmed.empty() || trimmed[0] == '#') continue;
    auto eq = trimmed.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument(where + "expected 'key = value'");
    }
    std::string key = std::string(TrimWhitespace(trimmed.substr(0, eq)));
    std::string value = std::string(TrimWhitespace(trimmed.substr(eq + 1)));
    const Setting* setting = nullptr;
    for (const Setting& s : kSettings) {
      if (key == s.config_key) setting = &s;
    }
    if (setting == nullptr) {
      return InvalidArgument(where + "unknown key '" + key +
                             "' (known: master, master_name, ca, cert, key)");
    }
    if (seen[key]) return InvalidArgument(where + "key '" + key + "' repeated");
    seen[key] = true;
    if (value.empty()) {
      return InvalidArgument(where + "key '" + key + "' has no value");
    }
    std::string& field = c.*(setting->field);
    if (field.empty()) field = value;
  }
  return Status::Ok();
}

StatusOr<std::pair<std::string, std::uint16_t>> SplitHostPort(
    const std::string& text) {
  // The one ADDRESS:PORT parser (daemon/endpoint.h); the master's address
  // is numeric (MasterEndpoint).
  TVD_ASSIGN_OR_RETURN(daemon::Endpoint e, daemon::ParseEndpoint(text));
  return std::make_pair(e.address, e.port);
}

StatusOr<std::vector<daemon::Endpoint>> MasterList(const MasterConnection& c) {
  return daemon::ParseEndpointList(c.master);
}

StatusOr<std::vector<std::string>> ParseConnectionArgs(
    const std::vector<std::string>& args, TvdInvocation& inv) {
  std::vector<std::string> operands;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      inv.help = true;
      return operands;
    }
    if (a == "--json") {
      inv.json = true;
      continue;
    }
    std::string flag = a;
    std::optional<std::string> value;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    std::string* target = nullptr;
    if (flag == "--config") target = &inv.config;
    for (const Option& o : kConnectionOptions) {
      if (flag == o.flag) target = &(inv.connection.*(o.field));
    }
    if (target != nullptr) {
      if (!value) {
        if (i + 1 >= args.size()) {
          return InvalidArgument(flag + " needs a value");
        }
        value = args[++i];
      }
      if (value->empty()) return InvalidArgument(flag + " needs a value");
      if (target == &inv.connection.master && !target->empty()) {
        *target += "," + *value;  // one list of replicas
      } else {
        *target = *value;
      }
      continue;
    }
    if (a.starts_with("-") && a != "-") {
      return InvalidArgument("unknown option '" + a + "'");
    }
    operands.push_back(a);
  }
  return operands;
}

StatusOr<TvdInvocation> ParseTvdArgs(const std::vector<std::string>& args) {
  TvdInvocation inv;
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> operands,
                       ParseConnectionArgs(args, inv));
  if (inv.help) return inv;
  if (operands.empty()) {
    return InvalidArgument("missing COMMAND (list, show, add, update, remove)");
  }
  const std::string& verb = operands[0];
  struct VerbSpec {
    const char* name;
    TvdVerb verb;
    const char* operand;  // nullptr: none
  };
  constexpr VerbSpec kVerbs[] = {{"list", TvdVerb::kList, nullptr},
                                 {"show", TvdVerb::kShow, "TVD"},
                                 {"add", TvdVerb::kAdd, "FILE"},
                                 {"update", TvdVerb::kUpdate, "FILE"},
                                 {"remove", TvdVerb::kRemove, "TVD"}};
  const VerbSpec* spec = nullptr;
  for (const VerbSpec& v : kVerbs) {
    if (verb == v.name) spec = &v;
  }
  if (spec == nullptr) {
    return InvalidArgument("unknown command '" + verb +
                           "' (list, show, add, update, remove)");
  }
  inv.verb = spec->verb;
  std::size_t wanted = spec->operand ? 2 : 1;
  if (operands.size() < wanted) {
    return InvalidArgument(verb + " needs " + spec->operand);
  }
  if (operands.size() > wanted) {
    return InvalidArgument("unexpected argument '" + operands[wanted] + "'");
  }
  if (spec->operand) inv.operand = operands[1];
  if ((inv.verb == TvdVerb::kShow || inv.verb == TvdVerb::kRemove) &&
      !pki::IsValidName(inv.operand)) {
    return InvalidArgument("'" + inv.operand +
                           "' is not a valid TVD name (1-64 of A-Z a-z 0-9 _ "
                           ". -, not starting with . or -)");
  }
  return inv;
}

Status ResolveConnection(TvdInvocation& inv, const EnvLookup& env) {
  MasterConnection& c = inv.connection;
  for (const Setting& s : kSettings) {
    std::string& field = c.*(s.field);
    if (field.empty()) {
      if (auto v = env(s.env); v && !v->empty()) field = *v;
    }
  }
  std::string config = inv.config;
  if (config.empty()) {
    if (auto v = env("TVDCTL_ADMIN_CONFIG"); v && !v->empty()) config = *v;
  }
  if (!config.empty()) {
    TVD_RETURN_IF_ERROR(ApplyConfigFile(config, c));
  } else {
    std::error_code ec;
    if (std::filesystem::exists(kDefaultAdminConfig, ec)) {
      TVD_RETURN_IF_ERROR(ApplyConfigFile(kDefaultAdminConfig, c));
    }
  }
  if (c.master_name.empty()) c.master_name = kDefaultMasterName;
  if (c.master.empty()) {
    return InvalidArgument(
        "no master address: pass --master ADDRESS:PORT, set TVD_MASTER, or "
        "write 'master = ADDRESS:PORT' in the config file");
  }
  TVD_RETURN_IF_ERROR(MasterList(c).status());
  if (!pki::IsValidName(c.master_name)) {
    return InvalidArgument("--master-name '" + c.master_name +
                           "' is not a valid certificate name");
  }
  for (const auto& [value, what] :
       {std::pair{&c.ca, "--ca (TVD_ADMIN_CA, config 'ca')"},
        std::pair{&c.cert, "--cert (TVD_ADMIN_CERT, config 'cert')"},
        std::pair{&c.key, "--key (TVD_ADMIN_KEY, config 'key')"}}) {
    if (value->empty()) {
      return InvalidArgument(std::string("no admin certificate: pass ") + what);
    }
  }
  return Status::Ok();
}

void RenderTvdList(const json& reply, std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  for (const json& t : Array(reply, "tvds")) {
    std::string hosts;
    for (const json& m : Array(t, "members")) {
      if (!hosts.empty()) hosts += " ";
      hosts += Cell(m, "host") + (Flag(m, "attested") ? "(ok)" : "(FAILED)");
    }
    rows.push_back({Cell(t, "name"), Cell(t, "id"), Cell(t, "epoch"),
                    std::to_string(Array(t, "vms").size()), Cell(t, "source"),
                    hosts.empty() ? "-" : hosts});
  }
  if (rows.empty()) {
    out << "the master has no TVDs (add one with 'tvdctl tvd add FILE')\n";
    return;
  }
  PrintTable(out, {"TVD", "ID", "EPOCH", "VMS", "SOURCE", "HOSTS(ATTESTATION)"},
             rows);
}

void RenderTvdShow(const json& t, std::ostream& out) {
  out << "TVD " << Cell(t, "name") << " (id " << Cell(t, "id")
      << ")  key epoch " << Cell(t, "epoch") << "  source " << Cell(t, "source")
      << "\npolicy digest " << Cell(t, "digest") << "\n";
  if (t.contains("quota_in_use") && t["quota_in_use"].is_object()) {
    const json& q = t["quota_in_use"];
    auto amount = [&](const char* key) -> std::uint64_t {
      return q.contains(key) && q[key].is_number_unsigned()
                 ? q[key].get<std::uint64_t>()
                 : 0;
    };
    out << "quota in use (all hosts): " << amount("domains") << " domains, "
        << amount("vcpus") << " vCPUs, "
        << policy::PrintAmount(policy::QuotaKind::kMemory, amount("memory_kib"))
        << " memory, "
        << policy::PrintAmount(policy::QuotaKind::kDisk, amount("disk_bytes"))
        << " disk\n";
  }
  out << "\n";
  std::map<std::string, std::size_t> vms_per_host;
  for (const json& v : Array(t, "vms")) ++vms_per_host[Cell(v, "host")];
  std::vector<std::vector<std::string>> hosts;
  for (const json& m : Array(t, "members")) {
    hosts.push_back({Cell(m, "host"), Cell(m, "underlay"), AttestationCell(m),
                     TimeCell(m), Flag(m, "connected") ? "yes" : "no",
                     std::to_string(vms_per_host[Cell(m, "host")])});
  }
  if (hosts.empty()) {
    out << "no member hosts\n";
  } else {
    PrintTable(out,
               {"HOST", "UNDERLAY", "ATTESTATION", "LAST ATTESTED", "CONNECTED",
                "VMS"},
               hosts);
  }
  out << "\n";
  std::vector<std::vector<std::string>> nets;
  for (const json& n : Array(t, "networks")) {
    nets.push_back(
        {Cell(n, "name"), Cell(n, "kind"), Cell(n, "vni"), Cell(n, "subnet")});
  }
  if (nets.empty()) {
    out << "no networks\n";
  } else {
    PrintTable(out, {"NETWORK", "KIND", "VNI", "SUBNET"}, nets);
  }
  out << "\n";
  std::vector<std::vector<std::string>> vms;
  for (const json& v : Array(t, "vms")) {
    vms.push_back({Cell(v, "vm"), Cell(v, "host"), Cell(v, "uuid")});
  }
  std::sort(vms.begin(), vms.end(), [](const auto& a, const auto& b) {
    return std::tie(a[1], a[0]) < std::tie(b[1], b[0]);
  });
  if (vms.empty()) {
    out << "no VMs\n";
  } else {
    PrintTable(out, {"VM", "HOST", "UUID"}, vms);
  }
  // vTPM bindings (only in the answer about one TVD).
  if (t.contains("vtpms")) {
    std::vector<std::vector<std::string>> vtpms;
    for (const json& v : Array(t, "vtpms")) {
      vtpms.push_back({Cell(v, "vm"), Cell(v, "host"), Cell(v, "ek_sha256"),
                       Cell(v, "created_at")});
    }
    out << "\n";
    if (vtpms.empty()) {
      out << "no vTPMs\n";
    } else {
      PrintTable(out, {"VTPM OF VM", "HOST", "EK SHA-256", "CREATED"}, vtpms);
    }
  }
}

int RunTvdCommand(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  auto parsed = ParseTvdArgs(args);
  if (!parsed.ok()) {
    err << "tvdctl tvd: " << parsed.status().message()
        << " (see 'tvdctl tvd --help')\n";
    return kExitUsage;
  }
  TvdInvocation inv = std::move(parsed).value();
  if (inv.help) {
    PrintUsage(out);
    return kExitOk;
  }
  Status resolved = ResolveConnection(inv, [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!resolved.ok()) {
    err << "tvdctl tvd: " << resolved.message() << "\n";
    return resolved.code() == ErrorCode::kInvalidArgument ? kExitUsage
                                                          : kExitFailure;
  }

  // The policy is checked here first: a broken file never reaches the master.
  std::string policy_xml;
  if (inv.verb == TvdVerb::kAdd || inv.verb == TvdVerb::kUpdate) {
    auto text = ReadFileCapped(inv.operand, protocol::kMaxPolicyXml);
    if (!text.ok()) {
      err << "tvdctl tvd: " << text.status().message() << "\n";
      return kExitFailure;
    }
    auto policy = policy::ParseTvdPolicy(*text, inv.operand);
    if (!policy.ok()) {
      err << "tvdctl tvd: " << policy.status().message()
          << "\n  fix the policy ('tvdctl policy validate " << inv.operand
          << "') and retry; nothing was sent\n";
      return kExitFailure;
    }
    policy_xml = std::move(text).value();
  }

  const MasterConnection& c = inv.connection;
  channel::TlsCredentials creds;
  Status loaded = [&]() -> Status {
    TVD_ASSIGN_OR_RETURN(creds.ca_cert_pem, ReadFileCapped(c.ca, 64 * 1024));
    TVD_ASSIGN_OR_RETURN(creds.cert_pem, ReadFileCapped(c.cert, 64 * 1024));
    TVD_ASSIGN_OR_RETURN(creds.key_pem, ReadKey(c.key));
    return Status::Ok();
  }();
  if (!loaded.ok()) {
    err << "tvdctl tvd: " << loaded.message()
        << "\n  check --ca/--cert/--key (or TVD_ADMIN_CA/CERT/KEY)\n";
    return kExitFailure;
  }
  auto tls = channel::TlsContext::Create(channel::TlsSide::kClient, creds);
  creds.key_pem.Clear();
  if (!tls.ok()) {
    err << "tvdctl tvd: admin credentials: " << tls.status().message()
        << "\n  --cert and --key must be a matching PEM pair, --ca the VDC "
           "CA certificate\n";
    return kExitFailure;
  }
  // ResolveConnection checked the list.
  protocol::FailoverAdminClient admin(*MasterList(c), c.master_name, **tls);

  StatusOr<std::string> reply = InvalidArgument("unreachable");
  switch (inv.verb) {
    case TvdVerb::kList:
      reply = admin.Query({protocol::AdminQueryKind::kTvds, ""});
      break;
    case TvdVerb::kShow:
      reply = admin.Query({protocol::AdminQueryKind::kTvd, inv.operand});
      break;
    case TvdVerb::kAdd:
      reply = admin.AddTvd(policy_xml);
      break;
    case TvdVerb::kUpdate:
      reply = admin.UpdateTvd(policy_xml);
      break;
    case TvdVerb::kRemove:
      reply = admin.RemoveTvd(inv.operand);
      break;
  }
  if (!reply.ok()) {
    const Status& s = reply.status();
    err << "tvdctl tvd: " << s.ToString() << "\n";
    if (s.code() == ErrorCode::kUnavailable) {
      err << "  is tvd-master running at " << c.master
          << "? start it, or point --master at it\n";
      return kExitUnreachable;
    }
    std::string hint = Hint(s.code());
    if (!hint.empty()) err << "  " << hint << "\n";
    return kExitFailure;
  }
  json j = json::parse(*reply, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    err << "tvdctl tvd: the master's answer is not JSON\n";
    return kExitFailure;
  }
  if (inv.json) {
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  switch (inv.verb) {
    case TvdVerb::kList:
      RenderTvdList(j, out);
      break;
    case TvdVerb::kShow:
      RenderTvdShow(j, out);
      break;
    case TvdVerb::kAdd:
      out << "added TVD '" << Cell(j, "added") << "' (policy digest "
          << Cell(j, "digest") << ")\n";
      break;
    case TvdVerb::kUpdate:
      // Members get the policy without its authorized hosts: they hear of
      // an update only when that copy changed (docs/master.md, section 3).
      out << "updated TVD '" << Cell(j, "updated") << "' (policy digest "
          << Cell(j, "digest") << ", members' copy " << Cell(j, "member_digest")
          << ")\n";
      break;
    case TvdVerb::kRemove:
      out << "removed TVD '" << Cell(j, "removed")
          << "'; its members were told to leave\n";
      break;
  }
  return kExitOk;
}

}  // namespace tvd::tvdctl
