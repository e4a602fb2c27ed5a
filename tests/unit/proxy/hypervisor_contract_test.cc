// The Hypervisor contract against FakeHypervisor, the fake the proxy's unit
// tests use. The same cases run against libvirt's test driver in
// tests/integration/proxy.
#include "tvd/testing/hypervisor_contract.h"

#include "tvd/testing/fake_hypervisor.h"

namespace tvd::testing {
namespace {

class FakeTarget : public ContractHypervisor {
 public:
  proxy::Hypervisor& hypervisor() override { return fake_; }
  Status DefineOnly(const std::string& xml) override {
    return fake_.DefineOnly(xml);
  }
  Status CreateTransient(const std::string& xml) override {
    return fake_.CreateTransient(xml);
  }
  Status PowerOff(const std::string& name) override {
    return fake_.PowerOff(name);
  }

 private:
  proxy::testing::FakeHypervisor fake_;
};

INSTANTIATE_TEST_SUITE_P(
    Fake, HypervisorContract,
    ::testing::Values(HypervisorTarget{
        "fake",
        []() -> StatusOr<std::unique_ptr<ContractHypervisor>> {
          return std::unique_ptr<ContractHypervisor>(new FakeTarget());
        }}),
    HypervisorTargetName);

}  // namespace
}  // namespace tvd::testing
