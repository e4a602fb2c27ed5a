// The real tvd-master binary as a child process for the benchmark.
//
// Start() writes everything the master needs into a private directory
// (/tmp/tvd-bench-master-<pid>-XXXXXX, mode 0700): its certificate and key
// issued by the given CA, a 32-byte KEK (mode 0600), the EK allowlist, an
// empty policy directory, a fresh state database path and the config file;
// then starts `tvd-master --config DIR/master.conf`, optionally inside a
// network namespace. It does not wait for the master to listen: the caller
// checks readiness with an admin query from wherever the master is reachable.
//
// Stop() sends SIGTERM to exactly that PID and waits; the destructor stops
// it too and removes the directory. CpuSeconds() reads the master's own
// user + system time from /proc/<pid>/stat.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "tvd/pki/certificate_authority.h"
#include "tvd/process.h"
#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::bench {

struct MasterSetup {
  std::string binary;          // path of tvd-master
  std::string netns;           // empty: the current namespace
  std::string listen_address;  // numeric
  std::uint16_t port = 0;
  // host name -> EK digest, written as the ek_allowlist file.
  std::multimap<std::string, Sha256Digest> trusted_eks;
  std::size_t max_connections = 0;  // 0: the daemon's default
  // Empty: SQLite in the master's directory. "ovsdb:REMOTE,...": the state
  // on that store, shared with the other replicas.
  std::string store;
  // The KEK to write (replicas of one store share it); null: a fresh one.
  const SecureBytes* kek = nullptr;
  int lock_takeover_ms = 0;   // 0: the daemon's default
  int eviction_grace_ms = 0;  // 0: the daemon's default
};

class MasterProcess {
 public:
  static StatusOr<std::unique_ptr<MasterProcess>> Start(
      const MasterSetup& setup, const pki::KeyAndCertificate& ca);
  ~MasterProcess();
  MasterProcess(const MasterProcess&) = delete;
  MasterProcess& operator=(const MasterProcess&) = delete;

  pid_t pid() const { return process_.pid(); }
  bool Running() { return process_.Running(); }
  // User + system CPU seconds the master has used so far; IoError when
  // /proc/<pid>/stat cannot be read.
  StatusOr<double> CpuSeconds() const;
  // Stops the master (SIGTERM, then SIGKILL after 10 s); its exit status.
  StatusOr<int> Stop();
  // The master's stderr so far (for error reports).
  std::string Log() const;

 private:
  MasterProcess() = default;
  std::string dir_;
  ChildProcess process_;
};

// User + system CPU seconds of process `pid` from /proc/<pid>/stat.
StatusOr<double> ProcessCpuSeconds(pid_t pid);
// Minor page faults of process `pid` so far, from /proc/<pid>/stat.
StatusOr<long> ProcessMinorFaults(pid_t pid);

}  // namespace tvd::bench
