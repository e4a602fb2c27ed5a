#include "tvd/testing/master_config.h"

#include "tvd/atomic_file.h"

namespace tvd::testing {

MasterConfigFile MasterConfigFile::InDir(const std::string& dir,
                                         std::uint16_t port) {
  MasterConfigFile c;
  c.listen_port = port;
  c.ca_cert = dir + "/ca.pem";
  c.cert = dir + "/master.pem";
  c.key = dir + "/master.key";
  c.policy_dir = dir + "/policies";
  c.state_db = dir + "/master.db";
  c.kek_file = dir + "/master.kek";
  c.ek_allowlist = dir + "/eks.txt";
  return c;
}

std::string MasterConfigFile::Text() const {
  std::string t;
  if (!listen_address.empty()) t += "listen_address = " + listen_address + "\n";
  t += "listen_port = " + std::to_string(listen_port) + "\n";
  t += "ca_cert = " + ca_cert + "\n";
  t += "cert = " + cert + "\n";
  t += "key = " + key + "\n";
  t += "policy_dir = " + policy_dir + "\n";
  // With a store on OVSDB the config has no state_db (the master refuses
  // both).
  if (store.empty() || store == "sqlite") {
    t += "state_db = " + state_db + "\n";
  }
  if (!store.empty()) t += "store = " + store + "\n";
  t += "kek_file = " + kek_file + "\n";
  t += "ek_allowlist = " + ek_allowlist + "\n";
  if (max_connections != 0) {
    t += "max_connections = " + std::to_string(max_connections) + "\n";
  }
  if (lock_takeover_ms != 0) {
    t += "lock_takeover_ms = " + std::to_string(lock_takeover_ms) + "\n";
  }
  if (eviction_grace_ms != 0) {
    t += "eviction_grace_ms = " + std::to_string(eviction_grace_ms) + "\n";
  }
  if (store_failover_ms != 0) {
    t += "store_failover_ms = " + std::to_string(store_failover_ms) + "\n";
  }
  return t;
}

Status WriteMasterConfig(const std::string& path,
                         const MasterConfigFile& config) {
  return WriteFileAtomically(path, config.Text());
}

}  // namespace tvd::testing
