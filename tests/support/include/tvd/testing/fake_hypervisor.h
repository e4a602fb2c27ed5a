// An in-memory Hypervisor (tvd/proxy/hypervisor.h) for the proxy's unit
// tests. It is held to what libvirt does by the contract suite
// (tvd/testing/hypervisor_contract.h), which runs the same cases against it
// and against LibvirtHypervisor on libvirt's test driver: names and UUIDs
// are unique, a <uuid> in the XML is kept, the owner is read from the TVD
// metadata namespace only, secret usages are unique, disks are never
// overwritten, and the errors are libvirt's codes and messages.
//
// Beyond the interface: every field is public so that tests can look at and
// arrange the host's state, start_error / create_disk_error make the next
// calls fail, and DefineOnly / CreateTransient / PowerOff act as the rest of
// the world does (a tenant through the relay, a guest powering off).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tvd/proxy/hypervisor.h"

namespace tvd::proxy::testing {

class FakeHypervisor : public Hypervisor {
 public:
  struct Domain {
    std::string xml;  // as given to DefineAndStart
    std::string uuid;
    bool active = false;
    std::string owner;
    bool persistent = true;  // false: created, never defined (transient)
  };
  struct Secret {
    std::string usage;
    std::vector<std::uint8_t> value;
    bool vtpm = false;  // usage type vtpm (DefineVtpmSecret)
  };

  // start_error when set; else as libvirt (see hypervisor.h).
  Status DefineAndStart(const std::string& domain_xml) override;
  Status DestroyAndUndefine(const std::string& name) override;
  // The XML given, with its <uuid> added when it had none (as libvirt's
  // own XML always carries it).
  StatusOr<std::string> DomainXml(const std::string& name) override;
  // By name.
  StatusOr<std::vector<DomainSummary>> ListDomains() override;
  StatusOr<std::string> DefineSecret(const std::string& usage,
                                     const SecureBytes& value) override;
  StatusOr<std::string> DefineVtpmSecret(const std::string& usage,
                                         const SecureBytes& value) override;
  Status UndefineSecret(const std::string& uuid) override;
  // create_disk_error when set; else checks the path and passphrase as
  // CreateLuksQcow2 does, records the request and creates a one-byte file
  // of mode 0600 at `path` (so that the proxy sees it).
  Status CreateEncryptedDisk(const std::string& path, std::uint64_t size_mib,
                             const SecureBytes& passphrase) override;
  StatusOr<std::vector<std::string>> ListSecrets(
      const std::string& usage_prefix) override;
  // As libvirt's for an absent or stopped domain and for one whose XML
  // has no attestation channel (HasAttestChannel); then the guest is
  // `guest_answers[name]` when set (the request it got is kept in
  // `guest_requests`), else Unavailable "guest agent did not answer within
  // N ms" as for a guest that runs no agent.
  StatusOr<attest::GuestQuoteAnswer> AskGuestForQuote(
      const std::string& name, const attest::GuestQuoteRequest& request,
      std::chrono::milliseconds timeout) override;

  // The world: defines without starting (a tenant's virsh define), creates
  // and starts without defining (virsh create), or stops a running domain
  // (a guest powering off; a transient domain is then gone). The same
  // checks and errors as DefineAndStart; PowerOff: NotFound "no domain
  // 'NAME'", FailedPrecondition "domain 'NAME' is not running".
  Status DefineOnly(const std::string& domain_xml);
  Status CreateTransient(const std::string& domain_xml);
  Status PowerOff(const std::string& name);

  // A well-formed UUID of its own for every domain and secret.
  std::string NextUuid();

  struct CreatedDisk {
    std::string path;
    std::uint64_t size_mib = 0;
    std::vector<std::uint8_t> passphrase;
  };
  std::map<std::string, Domain> domains;
  std::map<std::string, Secret> secrets;  // by UUID
  std::vector<CreatedDisk> created_disks;
  std::map<std::string, StatusOr<attest::GuestQuoteAnswer>> guest_answers;
  std::vector<std::pair<std::string, attest::GuestQuoteRequest>>
      guest_requests;
  Status start_error;
  Status create_disk_error;
  int counter = 0;

 private:
  // Checks `xml` as libvirt would and adds the domain.
  Status Add(const std::string& xml, bool active, bool persistent);
};

}  // namespace tvd::proxy::testing
