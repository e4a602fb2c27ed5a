#include "tvd/master/config.h"

#include <fstream>
#include <sstream>

#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/flags.h"
#include "tvd/master/ovsdb_leader_link.h"

namespace tvd::master {

StatusOr<MasterConfig> ParseMasterConfig(std::string_view text,
                                         std::string_view source) {
  MasterConfig c;
  // The keys are typed config keys (daemon/flags.h): one parser for every
  // daemon's files and flags.
  daemon::FlagSet keys("tvd-master");
  keys.Custom(
      "listen_address", "ADDRESS",
      [&c](std::string_view v) -> Status {
        if (!daemon::IsNumericAddress(v)) {
          return InvalidArgument("'" + std::string(v) +
                                 "' is not a numeric IP address");
        }
        c.listen_address = std::string(v);
        return Status::Ok();
      },
      "");
  keys.Integer<std::uint16_t>("listen_port", &c.listen_port, 0, 65535, "")
      .Required();
  for (auto [name, field] :
       {std::pair{"ca_cert", &c.ca_cert}, std::pair{"cert", &c.cert},
        std::pair{"key", &c.key}, std::pair{"policy_dir", &c.policy_dir},
        std::pair{"state_db", &c.state_db}, std::pair{"kek_file", &c.kek_file},
        std::pair{"ek_allowlist", &c.ek_allowlist}}) {
    auto& key = keys.Path(name, field, "", /*absolute=*/true);
    // state_db is required unless the state is on OVSDB (checked below).
    if (std::string_view(name) != "state_db") key.Required();
  }
  keys.Custom(
      "store", "sqlite|ovsdb:REMOTE[,REMOTE...]",
      [&c](std::string_view v) -> Status {
        if (v == "sqlite") {
          c.ovsdb_remotes.clear();
          return Status::Ok();
        }
        if (!v.starts_with("ovsdb:")) {
          return InvalidArgument("'" + std::string(v) +
                                 "' is not sqlite or ovsdb:REMOTE[,REMOTE...]");
        }
        TVD_ASSIGN_OR_RETURN(c.ovsdb_remotes, ParseOvsdbRemotes(v.substr(6)));
        return Status::Ok();
      },
      "");
  keys.Integer<std::size_t>("max_connections", &c.max_connections, 16, 65536,
                            "");
  keys.Integer<std::int64_t>("lock_takeover_ms", &c.lock_takeover_ms, 500,
                             60000, "");
  keys.Integer<std::int64_t>("eviction_grace_ms", &c.eviction_grace_ms, 1000,
                             3600000, "");
  keys.Integer<std::int64_t>("store_failover_ms", &c.store_failover_ms, 1000,
                             15000, "");
  TVD_RETURN_IF_ERROR(keys.ParseConfigText(text, source));
  TVD_RETURN_IF_ERROR(keys.CheckRequiredKeys(source));
  if (c.ovsdb_remotes.empty() && c.state_db.empty()) {
    return InvalidArgument(std::string(source) + ": missing key 'state_db'");
  }
  if (!c.ovsdb_remotes.empty() && !c.state_db.empty()) {
    return InvalidArgument(
        std::string(source) +
        ": key 'state_db' is for the SQLite store; this "
        "config keeps the state on OVSDB (store = ovsdb:...)");
  }
  return c;
}

StatusOr<MasterConfig> LoadMasterConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("config " + path + " cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseMasterConfig(buffer.str(), path);
}

}  // namespace tvd::master
