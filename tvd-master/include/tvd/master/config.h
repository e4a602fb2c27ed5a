// The tvd-master configuration file: one "key = value" per line, '#'
// comments and blank lines ignored; typed config keys (daemon/flags.h).
// Strict: an unknown key, a key given twice, a missing required key or a bad
// value is an InvalidArgument "FILE:LINE: ..." (or "FILE: missing key 'K'").
//
//   listen_address = 127.0.0.1        (default 127.0.0.1; numeric address)
//   listen_port    = 7400             (required, 0..65535; 0: the kernel
//                                      picks one, see --port-file)
//   ca_cert        = /etc/tvd/ca.pem  (required: the VDC CA)
//   cert           = /etc/tvd/master.pem  (required)
//   key            = /etc/tvd/master.key  (required, the private key)
//   policy_dir     = /etc/tvd/policies    (required; *.xml TVD policies)
//   state_db       = /var/lib/tvd/master.db (required with the SQLite
//                                      store, refused with an OVSDB one)
//   store          = ovsdb:unix:/run/tvd/s1.sock,tcp:198.18.0.11:6641
//                    (optional: the state on OVSDB, ovsdb_store.h; a list
//                     of remotes. Without it, SQLite at state_db.)
//   kek_file       = /etc/tvd/master.kek  (required; 32 bytes, mode 0600)
//   ek_allowlist   = /etc/tvd/eks.txt     (required; "<host> <sha256 of
//                                          the EK public area>" per line)
//   max_connections = 4096  (default 4096, 16..65536: connections served at
//                            once; each member host holds one per TVD, and
//                            one thread serves each. Connections over it are
//                            refused with "too many connections")
//   lock_takeover_ms = 3000  (default 3000, 500..60000: with an OVSDB
//                            store, the bound within which another master
//                            takes over the singleton duties when their
//                            holder dies; ovsdb_lock.h, docs/master.md)
//   eviction_grace_ms = 10000 (default 10000, 1000..3600000: a member host
//                            with no good attestation for its TVD's
//                            interval plus this is evicted;
//                            eviction_deadlines.h)
//   store_failover_ms = 4000 (default 4000, 1000..15000: with an OVSDB
//                            store, a master that has not reached the
//                            store's leader for this long stops acting as
//                            a master until it does again: it ends its
//                            member channels (no LeaveNotice; the hosts
//                            rejoin another master) and refuses requests.
//                            Four election timeouts of ovsdb-tool's
//                            default 1000 ms election timer: a leader's
//                            election does not stop the masters. Keep it
//                            below eviction_grace_ms minus a host's
//                            fail-over, so hosts fail over before their
//                            eviction deadline; store_fence.h,
//                            docs/master.md section 6b)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd::master {

struct MasterConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 0;
  std::string ca_cert;
  std::string cert;
  std::string key;
  std::string policy_dir;
  std::string state_db;
  // `store = ovsdb:...`: the remotes of the OVSDB store; empty: SQLite.
  std::vector<std::string> ovsdb_remotes;
  std::string kek_file;
  std::string ek_allowlist;
  std::size_t max_connections = 4096;
  std::int64_t lock_takeover_ms = 3000;
  std::int64_t eviction_grace_ms = 10000;
  std::int64_t store_failover_ms = 4000;
};

StatusOr<MasterConfig> ParseMasterConfig(std::string_view text,
                                         std::string_view source);
StatusOr<MasterConfig> LoadMasterConfig(const std::string& path);

}  // namespace tvd::master
