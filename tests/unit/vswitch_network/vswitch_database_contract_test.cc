// The VswitchDatabase contract against the in-memory fake. The same cases
// run against a real ovsdb-server in tests/integration/vswitch.
#include "tvd/testing/vswitch_database_contract.h"

#include "tvd/testing/fake_vswitch_database.h"

namespace tvd::testing {
namespace {

class FakeTarget : public ContractDatabase {
 public:
  vswitch::VswitchDatabase& db() override { return db_; }

 private:
  FakeVswitchDatabase db_;
};

INSTANTIATE_TEST_SUITE_P(
    Fake, VswitchDatabaseContract,
    ::testing::Values(ContractTarget{
        "fake",
        []() -> StatusOr<std::unique_ptr<ContractDatabase>> {
          return std::unique_ptr<ContractDatabase>(new FakeTarget());
        }}),
    ContractTargetName);

}  // namespace
}  // namespace tvd::testing
