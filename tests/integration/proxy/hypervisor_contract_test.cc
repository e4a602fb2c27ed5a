// The Hypervisor contract against LibvirtHypervisor: domains on libvirt's
// test driver with a private node file per test (libvirt gives every
// connection to such a file its own state, so each test starts with no
// domains), secrets on a private libvirtd's secret driver (the test driver
// has none), disks with qemu-img. The same cases run against the fake in
// tests/unit/proxy.
#include "tvd/testing/hypervisor_contract.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <fstream>

#include "tvd/proxy/libvirt_hypervisor.h"
#include "tvd/testing/libvirtd.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::testing {
namespace {

// One private libvirtd for the secrets of the whole binary, started by the
// first test that needs it and stopped (by PID) after the last.
class SecretDaemon : public ::testing::Environment {
 public:
  static StatusOr<LibvirtdInstance*> Get() {
    if (!daemon_) {
      TVD_ASSIGN_OR_RETURN(daemon_, LibvirtdInstance::Start());
    }
    return daemon_.get();
  }
  void TearDown() override { daemon_.reset(); }

 private:
  static std::unique_ptr<LibvirtdInstance> daemon_;
};
std::unique_ptr<LibvirtdInstance> SecretDaemon::daemon_;
[[maybe_unused]] ::testing::Environment* const kSecretDaemon =
    ::testing::AddGlobalTestEnvironment(new SecretDaemon());

std::string LastError() {
  const virError* e = virGetLastError();
  return e != nullptr && e->message != nullptr ? e->message
                                               : "unknown libvirt error";
}

class LibvirtTarget : public ContractHypervisor {
 public:
  static StatusOr<std::unique_ptr<ContractHypervisor>> Open() {
    TVD_ASSIGN_OR_RETURN(LibvirtdInstance * daemon, SecretDaemon::Get());
    std::unique_ptr<LibvirtTarget> t(new LibvirtTarget());
    if (t->dir_.path().empty()) return Internal("no temporary directory");
    const std::string node = t->dir_.File("node.xml");
    {
      std::ofstream out(node);
      out << "<node>\n</node>\n";
      if (!out.flush()) return IoError("writing " + node);
    }
    t->conn_ = virConnectOpen(("test://" + node).c_str());
    if (t->conn_ == nullptr) {
      return Unavailable("test driver on " + node + ": " + LastError());
    }
    const std::string secrets = daemon->ClientUri("secret:///system");
    t->secrets_ = virConnectOpen(secrets.c_str());
    if (t->secrets_ == nullptr) {
      return Unavailable("secret driver at " + secrets + ": " + LastError());
    }
    t->hv_ = proxy::LibvirtHypervisor::Adopt(t->conn_, t->secrets_);
    return std::unique_ptr<ContractHypervisor>(std::move(t));
  }
  ~LibvirtTarget() override {
    hv_.reset();
    if (secrets_ != nullptr) virConnectClose(secrets_);
    if (conn_ != nullptr) virConnectClose(conn_);
  }

  proxy::Hypervisor& hypervisor() override { return *hv_; }

  Status DefineOnly(const std::string& xml) override {
    virDomainPtr dom = virDomainDefineXML(conn_, xml.c_str());
    if (dom == nullptr) return FailedPrecondition("define: " + LastError());
    virDomainFree(dom);
    return Status::Ok();
  }
  Status CreateTransient(const std::string& xml) override {
    virDomainPtr dom = virDomainCreateXML(conn_, xml.c_str(), 0);
    if (dom == nullptr) return FailedPrecondition("create: " + LastError());
    virDomainFree(dom);
    return Status::Ok();
  }
  Status PowerOff(const std::string& name) override {
    virDomainPtr dom = virDomainLookupByName(conn_, name.c_str());
    if (dom == nullptr) return NotFound("no domain '" + name + "'");
    Status s;
    if (virDomainIsActive(dom) != 1) {
      s = FailedPrecondition("domain '" + name + "' is not running");
    } else if (virDomainDestroy(dom) != 0) {
      s = FailedPrecondition("destroy: " + LastError());
    }
    virDomainFree(dom);
    return s;
  }

 private:
  LibvirtTarget() = default;
  TempDir dir_{"hypervisor-node"};
  virConnectPtr conn_ = nullptr;
  virConnectPtr secrets_ = nullptr;
  std::unique_ptr<proxy::LibvirtHypervisor> hv_;
};

INSTANTIATE_TEST_SUITE_P(Libvirt, HypervisorContract,
                         ::testing::Values(HypervisorTarget{
                             "libvirt_test_driver", &LibvirtTarget::Open}),
                         HypervisorTargetName);

}  // namespace
}  // namespace tvd::testing
