// The part of OVSDB the TVD network model uses: transactions on the
// Open_vSwitch database. OvsdbVswitchDatabase forwards to a real OvsdbClient;
// unit tests use a fake that records the operations.
#pragma once

#include <chrono>

#include "tvd/vswitch/ovsdb/jsonrpc.h"
#include "tvd/vswitch/ovsdb/ovsdb_client.h"

namespace tvd::vswitch {

class VswitchDatabase {
 public:
  virtual ~VswitchDatabase() = default;
  // See OvsdbClient::Transact (database "Open_vSwitch").
  virtual StatusOr<Json> Transact(const Json& operations) = 0;
  // See OvsdbClient::TransactAndWaitApplied.
  virtual StatusOr<Json> TransactAndWaitApplied(
      const Json& operations, std::chrono::milliseconds wait) = 0;
};

class OvsdbVswitchDatabase : public VswitchDatabase {
 public:
  explicit OvsdbVswitchDatabase(OvsdbClient& client) : client_(client) {}
  StatusOr<Json> Transact(const Json& operations) override {
    return client_.Transact("Open_vSwitch", operations);
  }
  StatusOr<Json> TransactAndWaitApplied(
      const Json& operations, std::chrono::milliseconds wait) override {
    return client_.TransactAndWaitApplied(operations, wait);
  }

 private:
  OvsdbClient& client_;
};

}  // namespace tvd::vswitch
