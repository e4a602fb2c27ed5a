// The configuration file of a tvd-master that a test or a benchmark starts
// (the format is tvd-master's config file, tvd-master/src/config.cc), written
// in one place so that a new key reaches every test.
#pragma once

#include <cstdint>
#include <string>

#include "tvd/status.h"

namespace tvd::testing {

struct MasterConfigFile {
  std::string listen_address = "127.0.0.1";  // empty: the daemon's default
  std::uint16_t listen_port = 0;
  std::string ca_cert;
  std::string cert;
  std::string key;
  std::string policy_dir;
  std::string state_db;
  std::string kek_file;
  std::string ek_allowlist;
  // Empty: no `store` key (SQLite at state_db). "ovsdb:REMOTE,...": the
  // state on OVSDB, and state_db is left out.
  std::string store;
  std::size_t max_connections = 0;  // 0: the daemon's default
  int lock_takeover_ms = 0;         // 0: the daemon's default
  int eviction_grace_ms = 0;        // 0: the daemon's default
  int store_failover_ms = 0;        // 0: the daemon's default

  // Every file in `dir` by the usual names: ca.pem, master.pem, master.key,
  // policies/, master.db, master.kek, eks.txt.
  static MasterConfigFile InDir(const std::string& dir, std::uint16_t port);

  // "key = value" lines; listen_address is left out when empty.
  std::string Text() const;
};

// Writes Text() to `path` (mode 0644). Errors: IoError naming the path.
Status WriteMasterConfig(const std::string& path,
                         const MasterConfigFile& config);

}  // namespace tvd::testing
