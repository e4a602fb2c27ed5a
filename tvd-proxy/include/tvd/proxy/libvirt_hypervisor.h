// Hypervisor on the libvirt C API. Domains go through the connection to
// `uri`; secrets through `secrets_uri` when given (a hypervisor driver
// without secret support, like libvirt's test driver, next to the daemon's
// secret driver, e.g. "secret:///system"), else through the same one.
#pragma once

#include <memory>
#include <string>

#include "tvd/proxy/hypervisor.h"
#include "tvd/proxy/vm_admission.h"

struct _virConnect;  // libvirt's virConnect (virConnectPtr = _virConnect*)

namespace tvd::proxy {

class LibvirtHypervisor : public Hypervisor {
 public:
  // Unavailable (with libvirt's message) when `uri` cannot be opened.
  static StatusOr<std::unique_ptr<LibvirtHypervisor>> Open(
      const std::string& uri, const std::string& secrets_uri = "");
  // On connections the caller opened (`secrets` may equal `conn`); takes a
  // reference of each, so the caller still closes its own. For tests that
  // act on the same private driver state as the hypervisor (libvirt's test
  // driver gives every connection its own).
  static std::unique_ptr<LibvirtHypervisor> Adopt(_virConnect* conn,
                                                  _virConnect* secrets);
  ~LibvirtHypervisor() override;

  // Where this process sees libvirt's channel directory
  // (kLibvirtChannelDir, vm_admission.h): that path itself unless libvirtd
  // runs in a mount namespace of its own. AskGuestForQuote connects only
  // to sockets inside it.
  void set_channel_dir(std::string dir) { channel_dir_ = std::move(dir); }

  Status DefineAndStart(const std::string& domain_xml) override;
  Status DestroyAndUndefine(const std::string& name) override;
  StatusOr<std::string> DomainXml(const std::string& name) override;
  StatusOr<std::vector<DomainSummary>> ListDomains() override;
  StatusOr<std::string> DefineSecret(const std::string& usage,
                                     const SecureBytes& value) override;
  StatusOr<std::string> DefineVtpmSecret(const std::string& usage,
                                         const SecureBytes& value) override;
  Status UndefineSecret(const std::string& uuid) override;
  // With qemu-img (CreateLuksQcow2), QEMU being libvirt's driver here.
  Status CreateEncryptedDisk(const std::string& path, std::uint64_t size_mib,
                             const SecureBytes& passphrase) override;
  StatusOr<std::vector<std::string>> ListSecrets(
      const std::string& usage_prefix) override;
  StatusOr<attest::GuestQuoteAnswer> AskGuestForQuote(
      const std::string& name, const attest::GuestQuoteRequest& request,
      std::chrono::milliseconds timeout) override;

 private:
  LibvirtHypervisor(void* conn, void* secrets)
      : conn_(conn), secrets_(secrets) {}
  // DefineSecret (vtpm false: usage type volume) and DefineVtpmSecret.
  StatusOr<std::string> DefineSecretOf(bool vtpm, const std::string& usage,
                                       const SecureBytes& value);
  void* conn_;     // virConnectPtr
  void* secrets_;  // virConnectPtr; == conn_ when shared
  std::string channel_dir_ = kLibvirtChannelDir;
};

}  // namespace tvd::proxy
