// VswitchDatabase over a real ovsdb-server: the only place the TVD network
// model's rows and operations become OVSDB JSON (RFC 7047).
//
// Reads are one select transaction. Each write is one read (to learn the
// rows' UUIDs and check the contract's preconditions) and then ONE
// transaction through OvsdbClient::TransactAndWaitApplied, so OVSDB applies
// it whole or not at all and the call returns once ovs-vswitchd applied it.
// A concurrent writer that changes the same rows between the read and the
// transaction can make OVSDB refuse the transaction (FailedPrecondition from
// OvsdbClient, nothing applied). Not thread-safe (nor is OvsdbClient).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tvd/vswitch/network/ovsdb_rows.h"
#include "tvd/vswitch/network/vswitch_database.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"

namespace tvd::vswitch {

class OvsdbVswitchDatabase : public VswitchDatabase {
 public:
  // `client` must outlive this object.
  explicit OvsdbVswitchDatabase(OvsdbClient& client) : client_(client) {}

  StatusOr<BridgeState> ReadBridge(const std::string& bridge) override;
  StatusOr<std::vector<PortRow>> FindPorts(const std::string& bridge,
                                           const ExternalIds& match) override;
  StatusOr<InterfaceRow> GetInterface(const std::string& name) override;
  StatusOr<bool> EnsureBridge(const BridgeRow& bridge,
                              std::chrono::milliseconds apply_wait) override;
  Status Apply(const std::string& bridge, const BridgeChange& change,
               std::chrono::milliseconds apply_wait) override;

 private:
  // Bridge `bridge` (if any), every Port and every Interface, with UUIDs.
  StatusOr<ovsdb::Snapshot> Read(const std::string& bridge);

  OvsdbClient& client_;
};

}  // namespace tvd::vswitch
