// R tvd-master replicas for a benchmark: one master on SQLite (R = 1), or
// R masters on an R-server Raft store (tests/fixture/ovsdb_cluster, each
// server in a namespace of its own) sharing one KEK. Each replica listens on
// a free loopback port and gets an admin client. The destructor stops what
// Start started, by PID: masters first, then the store.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "master_process.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/protocol/master_client.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"
#include "tvd/testing/ovsdb_cluster.h"

namespace tvd::bench {

// The identity every replica's certificate carries.
extern const pki::Identity kMasterIdentity;

class ReplicaSet {
 public:
  // `setup` gives the binary, the EK allowlist and the limits; its port,
  // listen address, store and KEK are set here. Waits until every replica
  // answers an admin query. Errors name the replica and carry its log.
  static StatusOr<std::unique_ptr<ReplicaSet>> Start(
      MasterSetup setup, int replicas, const pki::KeyAndCertificate& ca,
      const channel::TlsContext& admin_tls);
  ~ReplicaSet();

  int size() const { return static_cast<int>(masters_.size()); }
  MasterProcess& master(int i) { return *masters_[i]; }
  const protocol::MasterEndpoint& endpoint(int i) const {
    return endpoints_[i];
  }
  const protocol::AdminClient& admin(int i) const { return *admins_[i]; }

  // Adds the TVD on replica 0 and waits (up to 30 s) until every replica
  // knows it through its store watch.
  Status AddTvd(const std::string& name, const std::string& policy_xml);

  // Whether replica `i` runs the singleton duties now (AdminQuery
  // "master": duties.held); false when it does not answer.
  bool HoldsDuties(int i) const;

 private:
  ReplicaSet() = default;
  SecureBytes kek_;
  std::unique_ptr<testing::OvsdbCluster> cluster_;
  std::vector<std::unique_ptr<MasterProcess>> masters_;
  std::vector<protocol::MasterEndpoint> endpoints_;
  std::vector<std::unique_ptr<protocol::AdminClient>> admins_;
};

// Waits (up to 10 s) until `admin` answers a query of the TVD list; the
// error carries the master's log.
Status WaitForMaster(const protocol::AdminClient& admin, MasterProcess& m);

}  // namespace tvd::bench
