// The VswitchDatabase contract against a real ovsdb-server and ovs-vswitchd
// (userspace datapath), a fresh pair in its own namespace and directory per
// test: the same cases the fake passes in the unit tests.
#include "tvd/testing/vswitch_database_contract.h"

#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/vswitch/network/ovsdb_vswitch_database.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"

namespace tvd::testing {
namespace {

class OvsdbTarget : public ContractDatabase {
 public:
  static StatusOr<std::unique_ptr<ContractDatabase>> Start() {
    std::unique_ptr<OvsdbTarget> t(new OvsdbTarget());
    TVD_ASSIGN_OR_RETURN(NetworkNamespace ns,
                         NetworkNamespace::Create(UniqueName("vdc")));
    t->ns_ = std::make_unique<NetworkNamespace>(std::move(ns));
    TVD_ASSIGN_OR_RETURN(
        t->ovs_,
        OvsInstance::Start(t->ns_->name(), "/tmp/tvd-" + t->ns_->name()));
    TVD_ASSIGN_OR_RETURN(
        t->client_,
        vswitch::OvsdbClient::Connect({.socket_path = t->ovs_->db_socket()}));
    t->db_ = std::make_unique<vswitch::OvsdbVswitchDatabase>(*t->client_);
    return std::unique_ptr<ContractDatabase>(std::move(t));
  }
  vswitch::VswitchDatabase& db() override { return *db_; }

 private:
  OvsdbTarget() = default;
  // Destroyed in reverse: client, then the daemons, then the namespace.
  std::unique_ptr<NetworkNamespace> ns_;
  std::unique_ptr<OvsInstance> ovs_;
  std::unique_ptr<vswitch::OvsdbClient> client_;
  std::unique_ptr<vswitch::OvsdbVswitchDatabase> db_;
};

INSTANTIATE_TEST_SUITE_P(Ovsdb, VswitchDatabaseContract,
                         ::testing::Values(ContractTarget{"ovsdb",
                                                          &OvsdbTarget::Start}),
                         ContractTargetName);

}  // namespace
}  // namespace tvd::testing
