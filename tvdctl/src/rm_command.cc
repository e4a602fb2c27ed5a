#include "tvd/tvdctl/rm_command.h"

#include <charconv>
#include <cstdlib>
#include <iomanip>

#include "tvd/rm/curve_keys.h"
#include "tvd/rm/query_client.h"
#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {

namespace {

using nlohmann::json;

void PrintUsage(std::ostream& out) {
  out << "usage: tvdctl rm [--server E] [--server-key FILE] [--key PREFIX]\n"
         "                 [--json] [--timeout-ms N] COMMAND\n"
         "  agents                 hosts, up/down, properties\n"
         "  node HOST              CPU, load, memory, free capacity\n"
         "  domains HOST           domains with state and TVD\n"
         "  networks HOST DOMAIN   TVD networks of a domain\n"
         "  keygen PREFIX          write PREFIX.pub and PREFIX.secret\n"
         "Options default to $TVD_RM_SERVER, $TVD_RM_SERVER_KEY, "
         "$TVD_RM_KEY.\n";
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string Str(const json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

void PrintQueryResult(const rm::QueryRequest& q, const json& r,
                      std::ostream& out) {
  using Kind = rm::QueryRequest::Kind;
  switch (q.kind) {
    case Kind::kAgents:
      out << std::left << std::setw(24) << "HOST" << std::setw(6) << "STATE"
          << "PROPERTIES\n";
      for (const json& a : r) {
        std::string props;
        // Named, so the range-for does not iterate a destroyed temporary.
        const json props_json = a.value("properties", json::object());
        for (const auto& [k, v] : props_json.items()) {
          props += (props.empty() ? "" : " ") + k + "=" + Str(v);
        }
        out << std::left << std::setw(24) << Str(a["host"]) << std::setw(6)
            << (a.value("up", false) ? "up" : "down") << props << "\n";
      }
      break;
    case Kind::kNode: {
      out << "host: " << Str(r["host"]) << "\n"
          << "state: " << (r.value("up", false) ? "up" : "down") << "\n";
      const json& s = r["status"];
      if (s.is_object()) {
        for (const char* k : {"cpus", "load1", "mem_total_kib", "mem_free_kib",
                              "free_vcpus", "free_mem_kib"}) {
          out << k << ": " << Str(s.value(k, json())) << "\n";
        }
      } else {
        out << "status: not reported yet\n";
      }
      break;
    }
    case Kind::kDomains:
      out << std::left << std::setw(24) << "DOMAIN" << std::setw(10) << "STATE"
          << std::setw(16) << "TVD"
          << "NETWORKS\n";
      for (const json& d : r) {
        std::string nets;
        const json nets_json = d.value("networks", json::array());
        for (const json& n : nets_json) {
          nets += (nets.empty() ? "" : ",") + Str(n);
        }
        const std::string tvd = Str(d["tvd"]);
        out << std::left << std::setw(24) << Str(d["name"]) << std::setw(10)
            << Str(d["state"]) << std::setw(16) << (tvd.empty() ? "-" : tvd)
            << nets << "\n";
      }
      break;
    default:
      for (const json& n : r) out << Str(n) << "\n";
      break;
  }
}

}  // namespace

int RunRmCommand(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  std::string server = Env("TVD_RM_SERVER");
  std::string server_key = Env("TVD_RM_SERVER_KEY");
  std::string key = Env("TVD_RM_KEY");
  bool as_json = false;
  long timeout_ms = 5000;
  std::size_t i = 0;
  for (; i < args.size() && args[i].starts_with("--"); ++i) {
    const std::string& a = args[i];
    if (a == "--help") {
      PrintUsage(out);
      return kExitOk;
    }
    if (a == "--json") {
      as_json = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      err << "tvdctl rm: option '" << a << "' needs a value\n";
      return kExitUsage;
    }
    const std::string& v = args[++i];
    if (a == "--server") {
      server = v;
    } else if (a == "--server-key") {
      server_key = v;
    } else if (a == "--key") {
      key = v;
    } else if (a == "--timeout-ms") {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), timeout_ms);
      if (ec != std::errc() || p != v.data() + v.size() || timeout_ms <= 0) {
        err << "tvdctl rm: --timeout-ms: expected a positive integer\n";
        return kExitUsage;
      }
    } else {
      err << "tvdctl rm: unknown option '" << a << "'\n";
      return kExitUsage;
    }
  }
  const std::vector<std::string> rest(args.begin() + i, args.end());
  if (rest.empty()) {
    PrintUsage(err);
    return kExitUsage;
  }
  if (rest[0] == "keygen") {
    if (rest.size() != 2) {
      err << "usage: tvdctl rm keygen PREFIX\n";
      return kExitUsage;
    }
    StatusOr<rm::CurveKeyPair> pair = rm::GenerateCurveKeyPair();
    Status s =
        pair.ok() ? rm::WriteKeyPairFiles(rest[1], *pair) : pair.status();
    if (!s.ok()) {
      err << "tvdctl rm keygen: " << s.ToString() << "\n";
      return kExitFailure;
    }
    out << pair->public_z85 << "\n";
    return kExitOk;
  }
  rm::QueryRequest q;
  using Kind = rm::QueryRequest::Kind;
  if (rest[0] == "agents" && rest.size() == 1) {
    q.kind = Kind::kAgents;
  } else if (rest[0] == "node" && rest.size() == 2) {
    q = {Kind::kNode, rest[1], ""};
  } else if (rest[0] == "domains" && rest.size() == 2) {
    q = {Kind::kDomains, rest[1], ""};
  } else if (rest[0] == "networks" && rest.size() == 3) {
    q = {Kind::kNetworks, rest[1], rest[2]};
  } else {
    err << "tvdctl rm: unknown command or wrong arguments: '" << rest[0]
        << "' (see 'tvdctl rm --help')\n";
    return kExitUsage;
  }
  if (server.empty() || server_key.empty() || key.empty()) {
    err << "tvdctl rm: --server, --server-key and --key (or TVD_RM_SERVER, "
           "TVD_RM_SERVER_KEY, TVD_RM_KEY) are required\n";
    return kExitUsage;
  }
  StatusOr<std::string> server_public = rm::LoadPublicKeyFile(server_key);
  if (!server_public.ok()) {
    err << "tvdctl rm: " << server_public.status().ToString() << "\n";
    return kExitFailure;
  }
  StatusOr<rm::CurveKeyPair> keys = rm::LoadKeyPair(key);
  if (!keys.ok()) {
    err << "tvdctl rm: " << keys.status().ToString() << "\n";
    return kExitFailure;
  }
  auto client = rm::RmQueryClient::Connect(server, *server_public, *keys);
  if (!client.ok()) {
    err << "tvdctl rm: " << client.status().ToString() << "\n";
    return kExitFailure;
  }
  StatusOr<json> result =
      (*client)->Query(q, std::chrono::milliseconds(timeout_ms));
  if (!result.ok()) {
    err << "tvdctl rm: " << result.status().ToString() << "\n";
    return kExitFailure;
  }
  if (as_json) {
    out << result->dump(2) << "\n";
  } else {
    PrintQueryResult(q, *result, out);
  }
  return kExitOk;
}

}  // namespace tvd::tvdctl
